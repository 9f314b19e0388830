/** The tour (`npm run tour`): on a fresh machine with Node 20 and Debian's PostgreSQL packages, show the whole
 *  product working on the embedded defaults — a throwaway PostgreSQL 15 with sample data, `pgvault serve`,
 *  a vault, a policy, protection, a backup, a restore into PostgreSQL 17 (another major), proof that the data
 *  are equal, where to look, and a clean-up. Every step is the CLI a user would type. Leaves nothing behind. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertDatabasesEqual, availableMajors, startCluster, type PgCluster, type PgMajor } from '../support/index.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repoRoot, 'bin', 'pgvault.mjs');

export interface TourResult {
  sourceMajor: PgMajor;
  targetMajor: PgMajor;
  pointId: string;
  rows: number;
}

export interface TourOptions {
  log?: (line: string) => void;
  /** Keep the temp directory (data dir, vault) for a look; the servers are stopped either way. */
  keep?: boolean;
}

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PGVAULT_')) env[k] = v;
  return { ...env, ...extra };
}

export async function runTour(opts: TourOptions = {}): Promise<TourResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const work = mkdtempSync(join(tmpdir(), 'pgvault-tour-'));
  const dataDir = join(work, 'data');
  const env = cleanEnv({ PGVAULT_DATA_DIR: dataDir });
  const majors = availableMajors();
  const sourceMajor: PgMajor = majors.includes(15) ? 15 : (majors[0] as PgMajor);
  const targetMajor: PgMajor = ([17, 16, 14, 13] as PgMajor[]).find((m) => m !== sourceMajor && majors.includes(m)) ?? sourceMajor;
  let source: PgCluster | undefined;
  let target: PgCluster | undefined;
  let serve: ChildProcess | undefined;

  const pgvault = (args: string[], stdin?: string): Promise<string> => {
    log(`$ pgvault ${args.map((a) => (/^[\w@:/.=,+-]+$/.test(a) ? a : `'${a}'`)).join(' ')}${stdin === undefined ? '' : '   (value on stdin)'}`);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        for (const line of out.trimEnd().split('\n')) if (line) log(`  ${line}`);
        if (code === 0) resolve(out);
        else reject(new Error(`pgvault ${args[0]} exited ${code}:\n${err}`));
      });
      child.stdin.end(stdin ?? '');
    });
  };

  try {
    log(`== 1. a throwaway PostgreSQL ${sourceMajor} with sample data, and an empty PostgreSQL ${targetMajor} to restore into`);
    [source, target] = await Promise.all([startCluster({ major: sourceMajor }), startCluster({ major: targetMajor })]);
    await source.createDatabase('shop');
    await source.query(
      `CREATE TABLE customers (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, joined date NOT NULL);
       CREATE TABLE orders (id bigserial PRIMARY KEY, customer bigint NOT NULL REFERENCES customers, placed timestamptz NOT NULL,
                            total numeric(12,2) NOT NULL CHECK (total >= 0), note text);
       CREATE INDEX orders_customer_idx ON orders (customer, placed);
       CREATE VIEW big_spenders AS SELECT customer, sum(total) AS spent FROM orders GROUP BY customer HAVING sum(total) > 1000;
       INSERT INTO customers (email, joined) SELECT 'c' || g || '@example.com', DATE '2020-01-01' + g % 1500 FROM generate_series(1, 2000) g;
       INSERT INTO orders (customer, placed, total, note)
         SELECT 1 + g % 2000, TIMESTAMPTZ '2024-01-01' + g * INTERVAL '7 minutes', (g % 997) * 1.5, CASE WHEN g % 5 = 0 THEN 'gift ' || g END
         FROM generate_series(1, 20000) g;`,
      [],
      'shop',
    );
    const backupPassword = `tour-${Math.random().toString(36).slice(2)}`;
    await source.createRole('pgvault_backup', backupPassword, 'LOGIN');
    await source.query('GRANT pg_read_all_data TO pgvault_backup');
    log(`  source: ${source.url('shop', 'pgvault_backup', '***')}  target: PostgreSQL ${target.version} on port ${target.port}`);

    log('== 2. pgvault serve on the embedded defaults (PGlite catalog and filesystem vault in the data dir)');
    serve = spawn(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', '--log-level', 'warn'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let serveOut = '';
    serve.stdout!.on('data', (d: Buffer) => (serveOut += d.toString()));
    serve.stderr!.on('data', (d: Buffer) => (serveOut += d.toString()));
    const deadline = Date.now() + 90_000;
    while (!/listening on/.test(serveOut)) {
      if (serve.exitCode !== null || Date.now() > deadline) throw new Error(`pgvault serve did not start:\n${serveOut}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const line of serveOut.trimEnd().split('\n')) log(`  ${line}`);

    log('== 3. secrets (read from stdin, stored sealed), a vault, a policy, protection');
    await pgvault(['secret', 'set', 'vault-passphrase'], `tour-vault-${Math.random().toString(36).slice(2)}\n`);
    await pgvault(['secret', 'set', 'shop-backup'], `${backupPassword}\n`);
    await pgvault(['secret', 'set', 'target-admin'], `${target.password}\n`);
    await pgvault(['vault', 'create', 'tour', '--storage', `file://${join(work, 'vault')}`, '--key', 'secret:vault-passphrase']);
    await pgvault(['policy', 'create', 'daily', '--vault', 'tour', '--schedule', 'R/2026-01-04T02:00:00/P1D', '--time-zone', 'Europe/Berlin', '--retain', 'Default=P30D', '--retain', 'Weekly=P12W', '--retain', 'Yearly=P10Y']);
    await pgvault(['instance', 'create', 'shop', '--vault', 'tour', '--policy', 'daily', '--server', `postgresql://pgvault_backup@${source.host}:${source.port}/postgres`, '--database', 'shop', '--credential', 'secret:shop-backup']);

    log('== 4. a backup now, followed to its end');
    await pgvault(['backup', 'shop', '--wait']);
    const points = JSON.parse(await pgvault(['--output', 'json', 'point', 'list', '--instance', 'shop'])) as { items: Array<{ id: string }> };
    const pointId = points.items[0]!.id;

    log(`== 5. restore into PostgreSQL ${targetMajor} as a new database`);
    await pgvault(['restore', pointId, '--target', `postgresql://postgres@${target.host}:${target.port}/postgres`, '--credential', 'secret:target-admin', '--database', 'shop_restored', '--wait']);

    log('== 6. proof: schema and data are equal');
    await assertDatabasesEqual({ cluster: source, database: 'shop' }, { cluster: target, database: 'shop_restored' }, { ignoreMissingRoles: true });
    const rows = Number((await target.query<{ n: string }>('SELECT count(*) AS n FROM orders', [], 'shop_restored'))[0]!.n);
    log(`  equal: ${rows} orders, every table, index, view and sequence match`);
    await pgvault(['job', 'list']);

    log(`== 7. where to look${opts.keep ? '' : ' (removed at the end: run `npm run tour -- --keep` to keep them)'}`);
    log(`  data dir:  ${dataDir}  (admin.token, server.url, catalog/)`);
    log(`  vault:     ${join(work, 'vault')}  (encrypted packs, index, manifests)`);
    log('  API:       GET /openapi.json on the server; docs/api.md; errors in docs/errors.md');
    log('  next:      pgvault job list · pgvault point list · pgvault restore-files <point> --to /some/dir');
    return { sourceMajor, targetMajor, pointId, rows };
  } finally {
    log('== 8. clean-up');
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve!.once('exit', r));
      serve.kill('SIGTERM');
      const timer = setTimeout(() => serve!.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await Promise.all([source?.stop(), target?.stop()]);
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
    log(opts.keep ? `  servers stopped; kept ${work}` : '  servers stopped, temp files removed');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runTour({ keep: process.argv.includes('--keep') }).then(
    (r) => process.stdout.write(`tour done: backed up PostgreSQL ${r.sourceMajor}, restored into PostgreSQL ${r.targetMajor}, data equal\n`),
    (err: unknown) => {
      process.stderr.write(`tour failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
