/** Migrations on an external PostgreSQL: six pools, and two real processes, opening one empty catalog at once
 *  apply each migration exactly once (advisory lock); a catalog migrated by a newer pgvault is refused; an
 *  edited migration is detected; an unreachable server is a transient, coded error with no password in it. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, openCatalog, type Catalog } from '../../src/catalog/index.ts';
import { PgvaultError } from '../../src/lib/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

const catalogModule = fileURLToPath(new URL('../../src/catalog/index.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let cluster: PgCluster | undefined;
const open: Catalog[] = [];

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
});

afterAll(async () => {
  for (const c of open) await c.close();
  await cluster?.stop();
});

async function codeOf(p: Promise<unknown>): Promise<PgvaultError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(PgvaultError);
  return err as PgvaultError;
}

describe('catalog migrations on PostgreSQL', () => {
  it('applies every migration exactly once when six openers race on an empty database', async () => {
    await cluster!.createDatabase('race');
    const catalogs = await Promise.all(Array.from({ length: 6 }, () => openCatalog({ kind: 'postgres', url: cluster!.url('race'), poolMax: 2 })));
    open.push(...catalogs);
    const known = loadMigrations();
    for (const c of catalogs) expect(c.schemaVersion).toBe(known.length);
    const rows = await cluster!.query<{ version: number; checksum: string }>('SELECT version, checksum FROM pgvault.schema_migrations ORDER BY version', [], 'race');
    expect(rows.map((r) => r.version)).toEqual(known.map((m) => m.version));
    expect(rows.map((r) => r.checksum)).toEqual(known.map((m) => m.checksum));
    // All of them work on the one schema: a name taken through one is taken for all.
    await catalogs[0]!.vaults.create({ name: 'shared', storageUrl: 'file:///srv/shared', keyReference: 'env:K' });
    expect((await catalogs[5]!.vaults.get('shared')).name).toBe('shared');
    // Our tables live in their own schema, next to whatever else the database holds.
    const tables = await cluster!.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'pgvault' ORDER BY table_name`, [], 'race');
    expect(tables.map((t) => t.table_name)).toEqual(['api_tokens', 'audit_log', 'backup_instances', 'job_log', 'jobs', 'policies',
      'recovery_points', 'schedule_occurrences', 'schema_migrations', 'secrets', 'vaults']);
  });

  it('applies every migration exactly once when two processes start at once', async () => {
    await cluster!.createDatabase('two_procs');
    const script = `
      const { openCatalog } = await import(process.env.CAT_MODULE);
      const c = await openCatalog({ kind: 'postgres', url: process.env.CAT_URL });
      console.log(JSON.stringify({ version: c.schemaVersion }));
      await c.close();`;
    const run = (): Promise<string> => new Promise((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: repoRoot, timeout: 120_000,
        env: { ...process.env, CAT_MODULE: catalogModule, CAT_URL: cluster!.url('two_procs') },
      }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim())));
    });
    const outs = await Promise.all([run(), run()]);
    const known = loadMigrations().length;
    expect(outs.map((o) => JSON.parse(o))).toEqual([{ version: known }, { version: known }]);
    const rows = await cluster!.query<{ n: number }>('SELECT count(*)::int AS n FROM pgvault.schema_migrations', [], 'two_procs');
    expect(rows[0]!.n).toBe(known);
  });

  it('refuses a catalog that a newer pgvault migrated, and one whose applied migration was edited', async () => {
    await cluster!.createDatabase('newer');
    const c = await openCatalog({ kind: 'postgres', url: cluster!.url('newer') });
    await c.close();
    await cluster!.query(`INSERT INTO pgvault.schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')`, [], 'newer');
    const tooNew = await codeOf(openCatalog({ kind: 'postgres', url: cluster!.url('newer') }));
    expect(tooNew.code).toBe('UserErrorCatalogSchemaTooNew');
    expect(tooNew.hint).toMatch(/newer|at least as new/);
    await cluster!.query(`DELETE FROM pgvault.schema_migrations WHERE version = 999`, [], 'newer');
    await cluster!.query(`UPDATE pgvault.schema_migrations SET checksum = 'edited' WHERE version = 1`, [], 'newer');
    const edited = await codeOf(openCatalog({ kind: 'postgres', url: cluster!.url('newer') }));
    expect(edited.code).toBe('InternalErrorUnexpected');
    expect(edited.message).toContain('001-initial');
  });

  it('reports an unreachable catalog as transient without its password', async () => {
    const url = `postgresql://pgvault:Unreach4ble-pw@127.0.0.1:1/catalog`;
    const err = await codeOf(openCatalog({ kind: 'postgres', url }));
    expect(err.code).toBe('TransientErrorCatalogUnavailable');
    expect(JSON.stringify(err.toJSON())).not.toContain('Unreach4ble-pw');
    const wrongPw = await codeOf(openCatalog({ kind: 'postgres', url: cluster!.url('postgres', 'postgres', 'not-the-password') }));
    expect(JSON.stringify(wrongPw.toJSON())).not.toContain('not-the-password');
    const bad = await codeOf(openCatalog({ kind: 'postgres', url: 'mysql://x@y/z' }));
    expect(bad.code).toBe('UserErrorInvalidInput');
  });
});
