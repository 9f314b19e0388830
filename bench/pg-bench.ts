/** The PostgreSQL benchmark of issue 4, side by side in one run, medians of N repetitions:
 *  backup vs `pg_dump -Fc > file` and vs `pg_dump -Fc -Z0 > /dev/null`; a second backup after ~2 % churn;
 *  restore (serial and -j2, no spool) vs pg_restore of a local -Fc file (serial and -j2); peak RSS of each pgvault
 *  pipeline (own process); a 600 MB bytea value backed up and restored with memory bounded.
 *  Usage: npx tsx bench/pg-bench.ts [--scale 100] [--reps 3] [--bytea-mb 600] [--out bench/results/pg-<date>.md] */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixture, churn, startCluster, type PgCluster } from '../test/support/index.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '100' },
    reps: { type: 'string', default: '3' },
    'bytea-mb': { type: 'string', default: '600' },
    out: { type: 'string' },
  },
});
const scale = Number(values.scale);
const reps = Number(values.reps);
const byteaMb = Number(values['bytea-mb']);
const outFile = values.out ?? join('bench', 'results', `pg-${new Date().toISOString().slice(0, 10)}.md`);
const root = new URL('..', import.meta.url).pathname;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (b: number): string => (b / 1e6).toFixed(1);
const sec = (ms: number): string => (ms / 1000).toFixed(2);
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

/** Wall time of a command; stdout to a file (or /dev/null). The password goes through PGPASSWORD in the env. */
/** Flushes the cluster's dirty buffers (untimed), so that a timed step does not pay for the one before it. */
async function checkpoint(c: PgCluster): Promise<void> {
  const client = await c.connect();
  try {
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

function timeCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdoutTo = '/dev/null'): Promise<number> {
  const fd = openSync(stdoutTo, 'w');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', fd, 'pipe'], env });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      closeSync(fd);
      if (code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

interface ChildResult {
  ms: number;
  wallMs: number;
  maxRssKiB: number;
  [k: string]: unknown;
}

function child(job: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<ChildResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'pg-bench-child.ts'), JSON.stringify(job)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${JSON.stringify(job)} exited ${code}: ${err.slice(-3000)}`));
      resolve({ ...(JSON.parse(out.trim().split('\n').pop()!) as ChildResult), wallMs: performance.now() - t0 });
    });
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pgvault-pg-bench-'));
  let cluster: PgCluster | undefined;
  const lines: string[] = [];
  try {
    log(`starting PostgreSQL 15, building the fixture at scale ${scale}`);
    cluster = await startCluster({ major: 15, settings: { max_wal_size: '4GB', checkpoint_timeout: '30min' } });
    const c = cluster;
    const t0 = performance.now();
    const info = await buildFixture(c, 'bench', { scale });
    const buildMs = performance.now() - t0;
    log(`fixture: ${mb(info.sizeBytes)} MB in ${sec(buildMs)} s`);
    const pgEnv: NodeJS.ProcessEnv = { ...process.env, PGPASSWORD: c.password };
    const conn = ['-h', c.host, '-p', String(c.port), '-U', c.superuser];
    const passphrase = randomBytes(18).toString('base64');
    const childEnv = (db: string): NodeJS.ProcessEnv => ({ ...process.env, BENCH_PG_URL: c.url(db), BENCH_VAULT_PASSPHRASE: passphrase });

    const r = {
      dumpFc: [] as number[], dumpZ0: [] as number[], backup1: [] as number[], backup2: [] as number[],
      restoreFc: [] as number[], restoreFcJ2: [] as number[], restore: [] as number[], restoreJ2: [] as number[],
      rssBackup: [] as number[], rssRestore: [] as number[], rssRestoreJ2: [] as number[],
      archiveBytes: 0, fcBytes: 0, rssBaseline: 0, newBytes2: [] as number[], stored1: [] as number[], churned: [] as number[],
    };
    const fcFile = join(work, 'bench.dump');
    for (let rep = 0; rep < reps; rep++) {
      if (rep === 0) {
        const base = await child({ op: 'noop', vaultDir: join(work, 'vault-noop'), create: true, database: 'bench' }, childEnv('bench'));
        r.rssBaseline = base.maxRssKiB;
      }
      log(`rep ${rep + 1}/${reps}: pg_dump -Fc > file`);
      r.dumpFc.push(await timeCmd('pg_dump', [...conn, '-Fc', 'bench'], pgEnv, fcFile));
      r.fcBytes = statSync(fcFile).size;
      log(`rep ${rep + 1}: pg_dump -Fc -Z0 > /dev/null`);
      r.dumpZ0.push(await timeCmd('pg_dump', [...conn, '-Fc', '-Z0', 'bench'], pgEnv));
      const vaultDir = join(work, `vault-${rep}`);
      log(`rep ${rep + 1}: pgvault backup (first, fresh vault)`);
      const b1 = await child({ op: 'backup', vaultDir, create: true, database: 'bench' }, childEnv('bench'));
      r.backup1.push(b1.ms);
      r.rssBackup.push(b1.maxRssKiB);
      r.archiveBytes = b1.bytesDumped as number;
      r.stored1.push(b1.bytesStored as number);
      log(`rep ${rep + 1}: churn ~2 %`);
      const ch = await churn(c, 'bench', { fraction: 0.02, pattern: 'recent', seed: 100 + rep });
      r.churned.push(ch.updated + ch.deleted + ch.inserted);
      log(`rep ${rep + 1}: pgvault backup (after churn)`);
      const b2 = await child({ op: 'backup', vaultDir, database: 'bench' }, childEnv('bench'));
      r.backup2.push(b2.ms);
      r.rssBackup.push(b2.maxRssKiB);
      r.newBytes2.push(b2.bytesNew as number);

      // Each restore writes ~1 GB that the checkpointer flushes afterwards: the step after it would pay for that
      // flush. A CHECKPOINT (untimed) before every timed restore starts each from a clean cluster, and the order of
      // pg_restore and pgvault alternates between repetitions.
      const restoreFc = async (jobs: number): Promise<void> => {
        log(`rep ${rep + 1}: pg_restore${jobs > 1 ? ` -j${jobs}` : ''} of the local -Fc file`);
        await c.createDatabase('r_fc');
        await checkpoint(c);
        (jobs > 1 ? r.restoreFcJ2 : r.restoreFc).push(await timeCmd('pg_restore', [...conn, ...(jobs > 1 ? ['-j', String(jobs)] : []), '-d', 'r_fc', fcFile], pgEnv));
        await c.dropDatabase('r_fc');
      };
      const restorePgv = async (jobs: number): Promise<void> => {
        log(`rep ${rep + 1}: pgvault restore${jobs > 1 ? ` -j${jobs} (no spool)` : ', serial'}`);
        await checkpoint(c);
        const rr = await child({ op: 'restore', vaultDir, database: 'bench', manifestId: b2.manifestId, newDatabase: 'r_pgv', jobs }, childEnv('postgres'));
        (jobs > 1 ? r.restoreJ2 : r.restore).push(rr.ms);
        (jobs > 1 ? r.rssRestoreJ2 : r.rssRestore).push(rr.maxRssKiB);
        await c.dropDatabase('r_pgv');
      };
      for (const jobs of [1, 2]) {
        if (rep % 2 === 0) {
          await restoreFc(jobs);
          await restorePgv(jobs);
        } else {
          await restorePgv(jobs);
          await restoreFc(jobs);
        }
      }
      rmSync(vaultDir, { recursive: true, force: true });
    }

    const m = (xs: number[]): number => median(xs);
    const ratio = (a: number[], b: number[]): string => (m(a) / m(b)).toFixed(2);
    lines.push(`# PostgreSQL benchmark (${new Date().toISOString()})`, '');
    lines.push(`Machine: ${process.platform}, 2 cores shared with other sessions; load average at start ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}.`);
    lines.push(`Fixture: scale ${scale}, ${mb(info.sizeBytes)} MB on disk (pg_database_size), built in ${sec(buildMs)} s; archive (-Fc -Z0) ${mb(r.archiveBytes)} MB; local -Fc file ${mb(r.fcBytes)} MB.`);
    lines.push(`PostgreSQL 15 server and pg_dump/pg_restore 15; medians of ${reps} repetitions, each repetition running every variant side by side.`);
    lines.push('pgvault times are the operation inside its own process (without Node start-up); pg_dump/pg_restore times are process wall time.');
    lines.push('Every timed restore starts after an untimed CHECKPOINT; pg_restore and pgvault alternate which goes first between repetitions.', '');
    lines.push('| measure | median s | runs s | ratio | target |', '| --- | ---: | --- | ---: | --- |');
    const row = (name: string, xs: number[], rat = '', target = ''): void => {
      lines.push(`| ${name} | ${sec(m(xs))} | ${xs.map(sec).join(', ')} | ${rat} | ${target} |`);
    };
    row('pg_dump -Fc > file', r.dumpFc);
    row('pg_dump -Fc -Z0 > /dev/null', r.dumpZ0, ratio(r.dumpZ0, r.dumpFc));
    row('pgvault backup, first (fresh vault)', r.backup1, ratio(r.backup1, r.dumpFc), '≤ 0.75× pg_dump -Fc');
    row('pgvault backup after ~2 % churn', r.backup2, `${ratio(r.backup2, r.dumpFc)} (${ratio(r.backup2, r.dumpZ0)}× Z0)`, '≤ 0.65× pg_dump -Fc');
    row('pg_restore local -Fc, serial', r.restoreFc);
    row('pgvault restore, serial', r.restore, ratio(r.restore, r.restoreFc), '≤ 1.05× pg_restore serial');
    row('pg_restore local -Fc, -j2', r.restoreFcJ2, ratio(r.restoreFcJ2, r.restoreFc));
    row('pgvault restore -j2 (no spool)', r.restoreJ2, ratio(r.restoreJ2, r.restoreFc), '≤ 0.6× pg_restore serial');
    lines.push('');
    lines.push(`Peak RSS of the whole Node process (runtime, tsx loader, vault open and client discovery alone: ${(r.rssBaseline / 1024).toFixed(0)} MiB): backup ${r.rssBackup.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB; restore serial ${r.rssRestore.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB; restore -j2 ${r.rssRestoreJ2.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB (target ≤ 128 MiB for the pipelines: peak minus that baseline).`);
    lines.push(`Churn between the two backups: pattern "recent" (updates, deletes and inserts on the newest rows of app.events and app.orders), rows touched: ${r.churned.join(', ')}; new bytes in the repeat backup: ${r.newBytes2.map(mb).join(', ')} MB; stored bytes of the first backup: ${r.stored1.map(mb).join(', ')} MB.`);

    if (byteaMb > 0) {
      log(`bytea: one ${byteaMb} MB value`);
      await c.createDatabase('bytea_big');
      // Escape output keeps printable bytes 1:1, so the COPY row stays under PostgreSQL's 1 GB limit (hex would double
      // it); the content does not repeat (md5 of a counter), so the vault cannot dedup it away.
      await c.query(`ALTER DATABASE bytea_big SET bytea_output = 'escape'`);
      await c.query(
        `CREATE TABLE big_value (id int PRIMARY KEY, v bytea); ALTER TABLE big_value ALTER COLUMN v SET STORAGE EXTERNAL;
         INSERT INTO big_value SELECT 1, convert_to(string_agg(md5(g::text), '' ORDER BY g), 'UTF8') FROM generate_series(1, ${Math.round((byteaMb * 1e6) / 32)}) g;`,
        [],
        'bytea_big',
      );
      const [src] = await c.query<{ n: string; h: string }>(`SELECT length(v)::text AS n, md5(v) AS h FROM big_value`, [], 'bytea_big');
      const vaultDir = join(work, 'vault-bytea');
      const b = await child({ op: 'backup', vaultDir, create: true, database: 'bytea_big' }, childEnv('bytea_big'));
      const rs = await child({ op: 'restore', vaultDir, database: 'bytea_big', manifestId: b.manifestId, newDatabase: 'bytea_back', jobs: 1 }, childEnv('postgres'));
      const [dst] = await c.query<{ n: string; h: string }>(`SELECT length(v)::text AS n, md5(v) AS h FROM big_value`, [], 'bytea_back');
      lines.push('');
      lines.push(`600 MB-class bytea: one value of ${mb(Number(src!.n))} MB; backup ${sec(b.ms)} s, peak RSS ${(b.maxRssKiB / 1024).toFixed(0)} MiB; restore ${sec(rs.ms)} s, peak RSS ${(rs.maxRssKiB / 1024).toFixed(0)} MiB; restored value ${src!.n === dst!.n && src!.h === dst!.h ? 'identical (length and md5)' : 'DIFFERENT'}.`);
    }
    const text = lines.join('\n') + '\n';
    writeFileSync(outFile, text);
    console.log('\n' + text);
  } finally {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
