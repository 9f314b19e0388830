/** The CLI end to end against a real `pgvault serve` and PostgreSQL 15: `secret set` from stdin (never echoed,
 *  never in argv), vault/policy/instance create, `backup --wait`, job and point lists in table and json,
 *  `restore --wait` into a new database with equal data, `restore-files --wait`; and the bad inputs
 *  through the CLI, each `ERROR [code]` + `HINT`, exit 2, and nothing changed. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertDatabasesEqual, startCluster, type PgCluster } from '../support/index.ts';
import { runCli, startServe, type CliResult, type ServeProcess } from './cli-test-server.ts';

let pg: PgCluster;
let s: ServeProcess;
let scratch: string;
const password = 'cli-backup-pass-93b2';

beforeAll(async () => {
  pg = await startCluster({ major: 15 });
  await pg.createDatabase('shop');
  await pg.query(`CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 3000) g;`, [], 'shop');
  await pg.createRole('backup', password, 'LOGIN');
  await pg.query('GRANT pg_read_all_data TO backup');
  scratch = mkdtempSync(join(tmpdir(), 'pgvault-cli-prot-'));
  s = await startServe();
});
afterAll(async () => {
  await s?.stop();
  await pg?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (s) rmSync(s.dataDir, { recursive: true, force: true });
});

const cli = (args: string[], stdin?: string) => runCli(['--data-dir', s.dataDir, ...args], stdin === undefined ? {} : { stdin });
const json = (r: CliResult) => JSON.parse(r.stdout) as Record<string, unknown>;
function expectRefused(r: CliResult, code: string): void {
  expect(r.code, r.stderr + r.stdout).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^ERROR \\[${code}\\]: `, 'm'));
  expect(r.stderr).toMatch(/^HINT: /m);
}

describe('pgvault CLI: protect, back up, restore', () => {
  it('secret set reads the value from stdin and never prints it', async () => {
    for (const [name, value] of [['vault-key', 'cli-vault-passphrase'], ['backup-pw', password], ['super-pw', pg.password]] as const) {
      const r = await cli(['secret', 'set', name], `${value}\n`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(value);
    }
    const list = await cli(['secret', 'list']);
    expect(list.stdout).toMatch(/^backup-pw\s/m);
    expect(list.stdout).not.toContain(password);
    expectRefused(await cli(['secret', 'set', 'empty'], ''), 'UserErrorInvalidInput');
  });

  it('creates a vault, a policy and an instance', async () => {
    const v = await cli(['--output', 'json', 'vault', 'create', 'main', '--storage', `file://${join(scratch, 'vault')}`, '--key', 'secret:vault-key']);
    expect(v.code, v.stderr).toBe(0);
    expect(json(v).name).toBe('main');
    const p = await cli(['policy', 'create', 'daily', '--vault', 'main', '--schedule', 'R/2026-01-04T02:00:00/P1D', '--time-zone', 'Europe/Berlin', '--retain', 'Default=P30D', '--retain', 'Weekly=P12W']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^name:\s+daily$/m);
    const i = await cli(['instance', 'create', 'shop-db', '--vault', 'main', '--policy', 'daily', '--server', `postgresql://backup@${pg.host}:${pg.port}/postgres`, '--database', 'shop', '--credential', 'secret:backup-pw']);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/^state:\s+protecting$/m);
    const list = await cli(['instance', 'list']);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+DATASOURCE\s+CREDENTIAL\s+ID$/);
  });

  it('bad input through the CLI: a coded error, exit 2, nothing created', async () => {
    const before = (await cli(['--output', 'json', 'vault', 'list'])).stdout + (await cli(['--output', 'json', 'policy', 'list'])).stdout;
    expectRefused(await cli(['vault', 'create', 'v2', '--storage', 'ftp://x/y', '--key', 'secret:vault-key']), 'UserErrorInvalidStorageUrl');
    expectRefused(await cli(['vault', 'create', 'v3', '--storage', `file://${scratch}/a/../../etc`, '--key', 'secret:vault-key']), 'UserErrorInvalidStorageUrl');
    expectRefused(await cli(['vault', 'create', 'v4', '--storage', `file://${scratch}/v4`, '--key', 'secret:nope']), 'UserErrorCredentialNotFound');
    expectRefused(await cli(['vault', 'create', "v'5", '--storage', `file://${scratch}/v5`, '--key', 'secret:vault-key']), 'UserErrorInvalidInput');
    expectRefused(await cli(['policy', 'create', 'zero', '--vault', 'main', '--schedule', 'R/2026-01-04T02:00:00/PT0S', '--retain', 'Default=P30D']), 'UserErrorInvalidInput');
    expectRefused(await cli(['policy', 'create', 'neg', '--vault', 'main', '--schedule', 'R/2026-01-04T02:00:00/-P1D', '--retain', 'Default=P30D']), 'UserErrorInvalidInput');
    expectRefused(await cli(['policy', 'create', 'long', '--vault', 'main', '--schedule', 'R/2026-01-04T02:00:00/P1D', '--retain', 'Default=P11Y']), 'UserErrorInvalidInput');
    expectRefused(await cli(['policy', 'create', 'negr', '--vault', 'main', '--schedule', 'R/2026-01-04T02:00:00/P1D', '--retain', 'Default=-P1D']), 'UserErrorInvalidInput');
    const after = (await cli(['--output', 'json', 'vault', 'list'])).stdout + (await cli(['--output', 'json', 'policy', 'list'])).stdout;
    expect(after).toBe(before);
    expect(readdirSync(scratch)).toEqual(['vault']);
  });

  let pointId = '';
  it('backup --wait runs to a recovery point; job and point lists show it', async () => {
    const r = await cli(['--output', 'json', 'backup', 'shop-db', '--wait', '--tag', 'Weekly']);
    expect(r.code, r.stderr).toBe(0);
    const job = json(r);
    expect(job.state).toBe('succeeded');
    expect(r.stderr).toMatch(/backup job_\S+\s+succeeded/);
    pointId = String((job.figures as Record<string, unknown>).recoveryPointId);
    const jobs = await cli(['--output', 'json', 'job', 'list', '--instance', 'shop-db', '--type', 'backup', '--state', 'succeeded']);
    expect((json(jobs).items as unknown[]).length).toBe(1);
    const table = await cli(['job', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+TYPE\s+STATE\s+CREATED\s+FINISHED\s+ERROR$/);
    const points = await cli(['point', 'list', '--instance', 'shop-db']);
    expect(points.stdout).toContain(pointId);
    expect(points.stdout).toMatch(/Weekly/);
    const shown = await cli(['--output', 'json', 'job', 'show', String(job.id), '--log']);
    expect(JSON.stringify(json(shown).log)).toContain('recovery point');
  });

  it('restore refuses an existing target (409 → exit 2) and restores into a new database with --wait', async () => {
    const target = `postgresql://postgres@${pg.host}:${pg.port}/postgres`;
    expectRefused(await cli(['restore', pointId, '--target', target, '--credential', 'secret:super-pw', '--database', 'shop']), 'UserErrorTargetDatabaseExists');
    const r = await cli(['restore', pointId, '--target', target, '--credential', 'secret:super-pw', '--database', 'shop_copy', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^state:\s+succeeded$/m);
    await assertDatabasesEqual({ cluster: pg, database: 'shop' }, { cluster: pg, database: 'shop_copy' });
    // Parallel workers and a chosen table; an unreadable table name is refused before any job.
    const j2 = await cli(['--output', 'json', 'restore', pointId, '--target', target, '--credential', 'secret:super-pw', '--database', 'shop_items', '--jobs', '2', '--table', 'items', '--no-tablespaces', '--wait']);
    expect(j2.code, j2.stderr).toBe(0);
    expect(json(j2).figures).toMatchObject({ mode: 'parallel', jobs: 2 });
    await assertDatabasesEqual({ cluster: pg, database: 'shop' }, { cluster: pg, database: 'shop_items' });
    expectRefused(await cli(['restore', pointId, '--target', target, '--credential', 'secret:super-pw', '--database', 'never', '--table', '"items']), 'UserErrorInvalidInput');
    expectRefused(await cli(['restore', pointId, '--target', target, '--credential', 'secret:super-pw', '--database', 'never', '--jobs', 'two']), 'UserErrorInvalidInput');
  });

  it('grants prints the privilege script; point delete and undelete', async () => {
    const g = await cli(['grants', 'backup', '--database', 'shop', '--server-major', '15']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain('GRANT pg_read_all_data TO "backup";');
    const d = await cli(['point', 'delete', pointId]);
    expect(d.stdout).toMatch(/^state:\s+soft_deleted$/m);
    const u = await cli(['point', 'undelete', pointId]);
    expect(u.stdout).toMatch(/^state:\s+available$/m);
  });

  it('restore-files --wait writes a pg_dump archive', async () => {
    const dest = join(scratch, 'files');
    const r = await cli(['restore-files', pointId, '--to', dest, '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dest).some((f) => f.endsWith('.dump'))).toBe(true);
  });
});
