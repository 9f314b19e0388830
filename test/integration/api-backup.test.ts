/** Protection end to end through the API on a real app and a real PostgreSQL 15: the pre-flight refuses a role
 *  without grants (nothing created), backup now answers 202 with a job that a worker runs to a recovery point,
 *  jobs are listed with filters and cursors, restore refuses an existing target (409, no job) and restores into
 *  a new database with equal data, and restore-files writes a pg_dump archive whose SHA-256 matches the point. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertDatabasesEqual, startCluster, type PgCluster } from '../support/index.ts';
import { startTestApp, type TestApp } from './api-test-app.ts';

let pg: PgCluster;
let t: TestApp;
let scratch: string;
const backupPassword = 'backup-pass-7c1e9a';

beforeAll(async () => {
  pg = await startCluster({ major: 15 });
  await pg.createDatabase('app');
  await pg.query(
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
     INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 500) g;
     CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers, total numeric(10,2));
     INSERT INTO orders (customer, total) SELECT 1 + g % 500, g * 1.25 FROM generate_series(1, 2000) g;`,
    [],
    'app',
  );
  await pg.createRole('backup', backupPassword, 'LOGIN CREATEDB');
  await pg.query('GRANT pg_read_all_data TO backup');
  await pg.createRole('nobody', 'nobody-pass-123', 'LOGIN');
  await pg.query('REVOKE ALL ON SCHEMA public FROM PUBLIC', [], 'app');
  scratch = mkdtempSync(join(tmpdir(), 'pgvault-api-backup-'));
  t = await startTestApp({ leaseSeconds: 10, workerPollMs: 200 });
  for (const [name, value] of [['vault-key', 'a-long-vault-passphrase'], ['backup-pw', backupPassword], ['nobody-pw', 'nobody-pass-123'], ['super-pw', pg.password]] as const) {
    expect((await t.http('PUT', `/v1/secrets/${name}`, { body: { value } })).status).toBe(200);
  }
  expect((await t.http('POST', '/v1/vaults', { body: { name: 'main', storageUrl: `file://${join(scratch, 'vault')}`, keyReference: 'secret:vault-key', softDeleteDays: 0 } })).status).toBe(201);
  const policy = await t.http('POST', '/v1/policies', {
    body: { vault: 'main', name: 'daily', schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/P1D', timeZone: 'UTC' }], retentionRules: [{ tag: 'Default', duration: 'P30D', priority: 0 }, { tag: 'Monthly', duration: 'P1Y', priority: 2 }] },
  });
  expect(policy.status).toBe(201);
});

afterAll(async () => {
  await t?.stop();
  await pg?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const serverUrl = (user: string) => `postgresql://${user}@${pg.host}:${pg.port}/postgres`;

async function waitForJob(id: string, timeoutMs = 90_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.http('GET', `/v1/jobs/${id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(String(res.json.state))) return res.json;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${String(res.json.state)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('API: protection, backup, jobs, restore', () => {
  it('refuses to protect with a role lacking grants: UserErrorMissingDBPermissions, nothing created', async () => {
    const res = await t.http('POST', '/v1/instances', {
      body: { name: 'weak', vault: 'main', policy: 'daily', datasource: { kind: 'database', serverUrl: serverUrl('nobody'), databaseName: 'app' }, credentialReference: 'secret:nobody-pw' },
    });
    expect(res.status, JSON.stringify(res.json)).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.json.code).toBe('UserErrorMissingDBPermissions');
    expect(String(res.json.hint)).toMatch(/GRANT/);
    expect(JSON.stringify(res.json)).not.toContain('nobody-pass-123');
    expect(await t.app.catalog.backupInstances.list()).toHaveLength(0);
  });

  it('refuses a reference to a missing secret: 4xx, nothing created', async () => {
    const res = await t.http('POST', '/v1/instances', {
      body: { name: 'app-db', vault: 'main', policy: 'daily', datasource: { kind: 'database', serverUrl: serverUrl('backup'), databaseName: 'app' }, credentialReference: 'secret:not-there' },
    });
    expect(res.json.code).toBe('UserErrorCredentialNotFound');
    expect(res.status).toBeLessThan(500);
    expect(await t.app.catalog.backupInstances.list()).toHaveLength(0);
  });

  let pointId = '';
  it('protects a database and backs it up now: 202 + job, then a recovery point', async () => {
    const created = await t.http('POST', '/v1/instances', {
      body: { name: 'app-db', vault: 'main', policy: 'daily', datasource: { kind: 'database', serverUrl: serverUrl('backup'), databaseName: 'app' }, credentialReference: 'secret:backup-pw' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json.state).toBe('protecting');

    const badTag = await t.http('POST', '/v1/instances/app-db/backup', { body: { tag: 'Yearly' } });
    expect(badTag.status).toBe(400);

    const res = await t.http('POST', '/v1/instances/app-db/backup', { body: { tag: 'Monthly' } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    expect(res.json.type).toBe('backup');
    expect(['queued', 'running']).toContain(res.json.state);
    const job = await waitForJob(res.json.id as string);
    expect(job.state, JSON.stringify(job)).toBe('succeeded');
    const figures = job.figures as Record<string, number | string>;
    expect(Number(figures.bytesDumped)).toBeGreaterThan(10_000);
    expect(figures.tag).toBe('Monthly');
    pointId = String(figures.recoveryPointId);

    const points = await t.http('GET', '/v1/points?instance=app-db');
    const items = points.json.items as Array<Record<string, unknown>>;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: pointId, tags: ['Monthly'], state: 'available' });
    const shown = await t.http('GET', `/v1/points/${pointId}`);
    expect((shown.json.entries as Array<{ name: string }>).map((e) => e.name)).toContain('databases/app.dump');

    const log = await t.http('GET', `/v1/jobs/${res.json.id as string}/log`);
    expect(JSON.stringify(log.json)).toContain('recovery point');
    expect(JSON.stringify(log.json)).not.toContain(backupPassword);
  });

  it('lists jobs with filters (instance, type, state, time range) and cursor pages', async () => {
    const second = await t.http('POST', '/v1/instances/app-db/backup', { body: {} });
    expect(second.status).toBe(202);
    const job2 = await waitForJob(second.json.id as string);
    expect(job2.state).toBe('succeeded');
    const f2 = job2.figures as { bytesNew: number; bytesDumped: number };
    expect(f2.bytesNew).toBeLessThan(f2.bytesDumped);

    const all = await t.http('GET', '/v1/jobs?instance=app-db&type=backup&state=succeeded');
    expect((all.json.items as unknown[]).length).toBe(2);
    expect((await t.http('GET', '/v1/jobs?type=restore')).json.items).toEqual([]);
    expect((await t.http('GET', '/v1/jobs?state=failed')).json.items).toEqual([]);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await t.http('GET', `/v1/jobs?since=${encodeURIComponent(future)}`)).json.items).toEqual([]);
    expect(((await t.http('GET', `/v1/jobs?until=${encodeURIComponent(future)}&vault=main`)).json.items as unknown[]).length).toBe(2);
    const page1 = await t.http('GET', '/v1/jobs?limit=1');
    expect((page1.json.items as unknown[]).length).toBe(1);
    const page2 = await t.http('GET', `/v1/jobs?limit=1&cursor=${page1.json.nextCursor as string}`);
    expect((page2.json.items as Array<{ id: string }>)[0]!.id).not.toBe((page1.json.items as Array<{ id: string }>)[0]!.id);
    expect((await t.http('GET', '/v1/jobs?state=bogus')).status).toBe(400);
    expect((await t.http('GET', '/v1/jobs?since=yesterday')).status).toBe(400);
  });

  it('refuses to restore over an existing database: 409 UserErrorTargetDatabaseExists, no job', async () => {
    const jobsBefore = (await t.app.catalog.jobs.list()).length;
    const res = await t.http('POST', `/v1/points/${pointId}/restore`, { body: { targetServerUrl: serverUrl('postgres'), credentialReference: 'secret:super-pw', database: 'app' } });
    expect(res.status).toBe(409);
    expect(res.json.code).toBe('UserErrorTargetDatabaseExists');
    expect((await t.app.catalog.jobs.list()).length).toBe(jobsBefore);
  });

  it('restores into a new database with equal data', async () => {
    const res = await t.http('POST', `/v1/points/${pointId}/restore`, { body: { targetServerUrl: serverUrl('postgres'), credentialReference: 'secret:super-pw', database: 'app_restored' } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    const job = await waitForJob(res.json.id as string);
    expect(job.state, JSON.stringify(job)).toBe('succeeded');
    await assertDatabasesEqual({ cluster: pg, database: 'app' }, { cluster: pg, database: 'app_restored' });
  });

  it('restores with parallel workers, and only chosen tables; refuses an unreadable table name or spool without jobs (400, no job)', async () => {
    const body = { targetServerUrl: serverUrl('postgres'), credentialReference: 'secret:super-pw' };
    const jobsBefore = (await t.app.catalog.jobs.list()).length;
    for (const [bad, field] of [
      [{ database: 'never', tables: ['"customers'] }, 'tables'],
      [{ database: 'never', jobs: 0 }, 'jobs'],
      [{ database: 'never', spool: true }, 'spool'],
    ] as const) {
      const res = await t.http('POST', `/v1/points/${pointId}/restore`, { body: { ...body, ...bad } });
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(JSON.stringify(res.json)).toContain(field);
    }
    expect((await t.app.catalog.jobs.list()).length).toBe(jobsBefore);

    const whole = await t.http('POST', `/v1/points/${pointId}/restore`, { body: { ...body, database: 'app_j2', jobs: 2 } });
    expect(whole.status, JSON.stringify(whole.json)).toBe(202);
    const j2 = await waitForJob(whole.json.id as string);
    expect(j2.state, JSON.stringify(j2)).toBe('succeeded');
    expect(j2.figures).toMatchObject({ mode: 'parallel', jobs: 2 });
    await assertDatabasesEqual({ cluster: pg, database: 'app' }, { cluster: pg, database: 'app_j2' });

    const some = await t.http('POST', `/v1/points/${pointId}/restore`, { body: { ...body, database: 'app_customers', jobs: 2, tables: ['public.customers'] } });
    const one = await waitForJob(some.json.id as string);
    expect(one.state, JSON.stringify(one)).toBe('succeeded');
    expect(await pg.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`, [], 'app_customers')).toEqual([{ tablename: 'customers' }]);
    expect(await pg.query('SELECT count(*)::int AS n FROM customers', [], 'app_customers')).toEqual([{ n: 500 }]);

    // A table the point lacks: the job fails with the coded error and its hint, and leaves no database.
    const missing = await t.http('POST', `/v1/points/${pointId}/restore`, { body: { ...body, database: 'app_nope', tables: ['public.nope'] } });
    const failed = await waitForJob(missing.json.id as string);
    expect(failed.state).toBe('failed');
    expect(JSON.stringify(failed)).toContain('UserErrorInvalidInput');
    expect(await pg.query(`SELECT 1 FROM pg_database WHERE datname = 'app_nope'`)).toEqual([]);
  });

  it('restores as files: a pg_dump archive whose SHA-256 is the recorded one', async () => {
    const dest = join(scratch, 'files');
    const escaping = await t.http('POST', `/v1/points/${pointId}/restore-files`, { body: { destination: `${dest}/../../etc` } });
    expect(escaping.status).toBe(400);
    const res = await t.http('POST', `/v1/points/${pointId}/restore-files`, { body: { destination: dest } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    const job = await waitForJob(res.json.id as string);
    expect(job.state, JSON.stringify(job)).toBe('succeeded');
    const point = await t.http('GET', `/v1/points/${pointId}`);
    const entry = (point.json.entries as Array<{ name: string; sha256: string }>).find((e) => e.name === 'databases/app.dump')!;
    const files = readdirSync(dest);
    const dump = files.find((f) => f.endsWith('.dump'))!;
    expect(createHash('sha256').update(readFileSync(join(dest, dump))).digest('hex')).toBe(entry.sha256);
    expect(readFileSync(join(dest, dump)).subarray(0, 5).toString()).toBe('PGDMP');
  });

  it('deletes (soft) and undeletes a recovery point; a deleted point cannot be restored', async () => {
    const del = await t.http('DELETE', `/v1/points/${pointId}`);
    expect(del.status, JSON.stringify(del.json)).toBe(200);
    expect(del.json.state).toBe('soft_deleted');
    const refused = await t.http('POST', `/v1/points/${pointId}/restore-files`, { body: { destination: join(scratch, 'never') } });
    expect(refused.status).toBe(409);
    const back = await t.http('POST', `/v1/points/${pointId}/undelete`);
    expect(back.json.state).toBe('available');
  });

  it('answers the privilege script for a role', async () => {
    const res = await t.http('GET', '/v1/grants?role=backup&database=app&database=billing&serverMajor=15');
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(String(res.json.script)).toContain('GRANT pg_read_all_data TO "backup";');
    expect(String(res.json.script)).toContain('GRANT CONNECT ON DATABASE "billing" TO "backup";');
    expect((await t.http('GET', '/v1/grants?role=backup')).status).toBe(400);
    expect((await t.http('GET', '/v1/grants?role=ba%00ck&database=app')).status).toBe(400);
  });

  it('validates an instance again: the pre-flight report', async () => {
    const res = await t.http('POST', '/v1/instances/app-db/validate');
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.role).toBe('backup');
    expect(String(res.json.serverVersion)).toMatch(/^15\./);
    expect((res.json.databases as Array<{ name: string }>).map((d) => d.name)).toEqual(['app']);
  });

  it('checks the vault, applies retention (a deleted point is purged after 0 soft-delete days) and prunes its data', async () => {
    const check = await waitForJob((await t.http('POST', '/v1/vaults/main/check', { body: { readData: true } })).json.id as string);
    expect(check.state, JSON.stringify(check)).toBe('succeeded');
    expect((check.figures as Record<string, unknown>).ok).toBe(true);
    expect((await t.http('DELETE', `/v1/points/${pointId}`)).json.state).toBe('soft_deleted');
    const retention = await waitForJob((await t.http('POST', '/v1/vaults/main/retention', { body: {} })).json.id as string);
    expect(retention.state, JSON.stringify(retention)).toBe('succeeded');
    expect((retention.figures as Record<string, number>).purged).toBe(1);
    expect((await t.http('GET', `/v1/points/${pointId}`)).json.state).toBe('purged');
    const prune = await waitForJob((await t.http('POST', '/v1/vaults/main/prune', { body: {} })).json.id as string);
    expect(prune.state, JSON.stringify(prune)).toBe('succeeded');
    expect((prune.figures as Record<string, number>).forgottenManifests).toBe(1);
    const after = await waitForJob((await t.http('POST', '/v1/vaults/main/check', { body: {} })).json.id as string);
    expect(after.state).toBe('succeeded');
    expect((after.figures as Record<string, number>).manifests).toBe(1);
  });

  it('a second pgvault with an empty catalog attaches the vault: its points are listed and restorable', async () => {
    const other = await startTestApp({ leaseSeconds: 10, workerPollMs: 200 });
    try {
      await other.http('PUT', '/v1/secrets/vault-key', { body: { value: 'a-long-vault-passphrase' } });
      const missing = await other.http('POST', '/v1/vaults/attach', { body: { name: 'nothing', storageUrl: `file://${join(scratch, 'no-vault')}`, keyReference: 'secret:vault-key' } });
      expect(missing.json.code).toBe('UserErrorVaultNotFound');
      const res = await other.http('POST', '/v1/vaults/attach', { body: { name: 'found', storageUrl: `file://${join(scratch, 'vault')}`, keyReference: 'secret:vault-key' } });
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      expect(res.json.importedPoints).toBe(1);
      const points = (await other.http('GET', '/v1/points?vault=found')).json.items as Array<{ id: string; expiresAt: string | null; entries: Array<{ name: string; sha256: string }> }>;
      expect(points).toHaveLength(1);
      expect(points[0]!.expiresAt).toBeNull();
      const dest = join(scratch, 'from-attached');
      const job = await other.http('POST', `/v1/points/${points[0]!.id}/restore-files`, { body: { destination: dest } });
      const deadline = Date.now() + 60_000;
      let state = '';
      while (!['succeeded', 'failed'].includes(state) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        state = String((await other.http('GET', `/v1/jobs/${job.json.id as string}`)).json.state);
      }
      expect(state).toBe('succeeded');
      const dump = readdirSync(dest).find((f) => f.endsWith('.dump'))!;
      const entry = points[0]!.entries.find((e) => e.name === 'databases/app.dump')!;
      expect(createHash('sha256').update(readFileSync(join(dest, dump))).digest('hex')).toBe(entry.sha256);
    } finally {
      await other.stop();
    }
  });

  it('resolves the credential afresh at every job: a password changed between two backups works with no restart', async () => {
    await pg.createRole('rotating', 'rotating-pass-one', 'LOGIN');
    await pg.query('GRANT pg_read_all_data TO rotating');
    expect((await t.http('PUT', '/v1/secrets/rotating-pw', { body: { value: 'rotating-pass-one' } })).status).toBe(200);
    const created = await t.http('POST', '/v1/instances', {
      body: { name: 'rotating-db', vault: 'main', policy: 'daily', datasource: { kind: 'database', serverUrl: serverUrl('rotating'), databaseName: 'app' }, credentialReference: 'secret:rotating-pw' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const first = await waitForJob((await t.http('POST', '/v1/instances/rotating-db/backup', { body: {} })).json.id as string);
    expect(first.state, JSON.stringify(first)).toBe('succeeded');

    await pg.query("ALTER ROLE rotating PASSWORD 'rotating-pass-two'");
    // The old secret no longer works: the job fails with the coded authentication error, and no point is made.
    const stale = await waitForJob((await t.http('POST', '/v1/instances/rotating-db/backup', { body: {} })).json.id as string);
    expect(stale.state).toBe('failed');
    expect((stale.error as { code: string }).code).toBe('UserErrorAuthenticationFailed');
    expect(JSON.stringify(stale)).not.toContain('rotating-pass');

    expect((await t.http('PUT', '/v1/secrets/rotating-pw', { body: { value: 'rotating-pass-two' } })).status).toBe(200);
    const second = await waitForJob((await t.http('POST', '/v1/instances/rotating-db/backup', { body: {} })).json.id as string);
    expect(second.state, JSON.stringify(second)).toBe('succeeded');
    const points = (await t.http('GET', '/v1/points?instance=rotating-db')).json.items as Array<{ state: string }>;
    expect(points.map((p) => p.state)).toEqual(['available', 'available']);
  });

  it('stop with delete soft-deletes every point of the instance (undelete brings one back); stop with retain keeps them', async () => {
    const stopped = await t.http('POST', '/v1/instances/rotating-db/stop', { body: { mode: 'delete' } });
    expect(stopped.json).toMatchObject({ state: 'stopped', stopMode: 'delete' });
    const points = (await t.http('GET', '/v1/points?instance=rotating-db')).json.items as Array<{ id: string; state: string }>;
    expect(points).toHaveLength(2);
    expect(points.map((p) => p.state)).toEqual(['soft_deleted', 'soft_deleted']);
    expect((await t.http('POST', `/v1/points/${points[0]!.id}/undelete`)).json.state).toBe('available');
  });

  it('suspend, resume and stop change the state; a stopped instance refuses backup now', async () => {
    expect((await t.http('POST', '/v1/instances/app-db/suspend')).json.state).toBe('suspended');
    expect((await t.http('POST', '/v1/instances/app-db/resume')).json.state).toBe('protecting');
    const statesOf = async () => ((await t.http('GET', '/v1/points?instance=app-db')).json.items as Array<{ id: string; state: string }>).map((p) => `${p.id}:${p.state}`);
    const before = await statesOf();
    expect(before.some((s) => s.endsWith(':available'))).toBe(true);
    const stopped = await t.http('POST', '/v1/instances/app-db/stop', { body: { mode: 'retain' } });
    expect(stopped.json).toMatchObject({ state: 'stopped', stopMode: 'retain' });
    expect(await statesOf()).toEqual(before);
    const refused = await t.http('POST', '/v1/instances/app-db/backup', { body: {} });
    expect(refused.status).toBe(409);
  });

  it('restores one database out of a whole-server point only when named, and recreates roles when asked', async () => {
    const created = await t.http('POST', '/v1/instances', {
      body: { name: 'whole', vault: 'main', policy: 'daily', datasource: { kind: 'server', serverUrl: serverUrl('postgres') }, credentialReference: 'secret:super-pw' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const backup = await waitForJob((await t.http('POST', '/v1/instances/whole/backup', { body: {} })).json.id as string);
    expect(backup.state, JSON.stringify(backup)).toBe('succeeded');
    const serverPoint = String((backup.figures as Record<string, unknown>).recoveryPointId);
    const body = { targetServerUrl: serverUrl('postgres'), credentialReference: 'secret:super-pw' };

    const jobsBefore = (await t.app.catalog.jobs.list()).length;
    const unnamed = await t.http('POST', `/v1/points/${serverPoint}/restore`, { body: { ...body, database: 'guess' } });
    expect(unnamed.status).toBe(400);
    expect(unnamed.json).toMatchObject({ code: 'UserErrorInvalidInput' });
    expect(String(unnamed.json.hint)).toContain('"app"');
    const unknown = await t.http('POST', `/v1/points/${serverPoint}/restore`, { body: { ...body, database: 'guess', entry: 'nope' } });
    expect(unknown.status).toBe(400);
    const dbPoint = ((await t.http('GET', '/v1/points?instance=app-db')).json.items as Array<{ id: string; state: string }>).find((p) => p.state === 'available')!.id;
    const noGlobals = await t.http('POST', `/v1/points/${dbPoint}/restore`, { body: { ...body, database: 'guess', createRoles: true } });
    expect(noGlobals.status).toBe(400);
    expect(JSON.stringify(noGlobals.json)).toContain('createRoles');
    const privilegedAlone = await t.http('POST', `/v1/points/${serverPoint}/restore`, { body: { ...body, database: 'guess', entry: 'app', privilegedRoles: true } });
    expect(privilegedAlone.status).toBe(400);
    expect((await t.app.catalog.jobs.list()).length).toBe(jobsBefore);

    const res = await t.http('POST', `/v1/points/${serverPoint}/restore`, { body: { ...body, database: 'app_from_server', entry: 'app', createRoles: true } });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    const job = await waitForJob(res.json.id as string);
    expect(job.state, JSON.stringify(job)).toBe('succeeded');
    // Same server: every role is there already.
    expect(job.figures).toMatchObject({ sourceDatabase: 'app', rolesCreated: [], rolesFailed: 0 });
    expect(JSON.stringify((await t.http('GET', `/v1/jobs/${res.json.id as string}/log`)).json)).toContain('roles created: none');
    await assertDatabasesEqual({ cluster: pg, database: 'app' }, { cluster: pg, database: 'app_from_server' });

    // As files: only the databases asked for (no globals.sql then); one the point lacks is refused before any job.
    const unknownDb = await t.http('POST', `/v1/points/${serverPoint}/restore-files`, { body: { destination: join(scratch, 'never-db'), databases: ['nope'] } });
    expect(unknownDb.status).toBe(400);
    expect(String(unknownDb.json.hint)).toContain('"app"');
    const dest = join(scratch, 'server-files');
    const files = await waitForJob((await t.http('POST', `/v1/points/${serverPoint}/restore-files`, { body: { destination: dest, databases: ['app'] } })).json.id as string);
    expect(files.state, JSON.stringify(files)).toBe('succeeded');
    expect(readdirSync(dest)).toEqual(['app.dump']);
  });
});
