/** Graceful shutdown with work in flight: a backup blocked inside pg_dump (a table locked by another session)
 *  when the app closes goes back to the queue instead of failing; after a restart on the same data dir it runs
 *  again and completes, and its recovery point is committed once. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type PgCluster } from '../support/index.ts';
import { startTestApp, type TestApp } from './api-test-app.ts';

let cluster: PgCluster;
let first: TestApp | undefined;
let second: TestApp | undefined;
let locker: pg.Client | undefined;

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  await cluster.createDatabase('app');
  await cluster.query('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;', [], 'app');
  await cluster.createRole('backup', 'shutdown-test-pw', 'LOGIN');
  await cluster.query('GRANT pg_read_all_data TO backup');
});
afterAll(async () => {
  await locker?.end().catch(() => undefined);
  await first?.app.close().catch(() => undefined);
  await second?.stop().catch(() => undefined);
  await cluster?.stop();
});

const overrides = { leaseSeconds: 10, retryDelaySeconds: 1, workerPollMs: 200, retentionEveryMs: 0 };

describe('graceful shutdown', () => {
  it('hands a running backup back to the queue; the restarted server completes it', async () => {
    first = await startTestApp(overrides);
    const t = first;
    await t.http('PUT', '/v1/secrets/k', { body: { value: 'shutdown-vault-passphrase' } });
    await t.http('PUT', '/v1/secrets/db', { body: { value: 'shutdown-test-pw' } });
    expect((await t.http('POST', '/v1/vaults', { body: { name: 'v', storageUrl: `file://${t.dataDir}/vault`, keyReference: 'secret:k' } })).status).toBe(201);
    await t.http('POST', '/v1/policies', { body: { vault: 'v', name: 'p', schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/P1D', timeZone: 'UTC' }], retentionRules: [{ tag: 'Default', duration: 'P7D', priority: 0 }] } });
    const inst = await t.http('POST', '/v1/instances', { body: { name: 'i', vault: 'v', policy: 'p', datasource: { kind: 'database', serverUrl: `postgresql://backup@${cluster.host}:${cluster.port}/postgres`, databaseName: 'app' }, credentialReference: 'secret:db' } });
    expect(inst.status, JSON.stringify(inst.json)).toBe(201);

    locker = new pg.Client({ connectionString: cluster.url('app') });
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');

    const job = await t.http('POST', '/v1/instances/i/backup', { body: {} });
    expect(job.status).toBe(202);
    const id = job.json.id as string;
    const deadline = Date.now() + 60_000;
    while ((await t.app.catalog.jobs.get(id)).state !== 'running') {
      if (Date.now() > deadline) throw new Error('the backup never started');
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000)); // pg_dump is now waiting for the lock

    const closing = Date.now();
    await t.app.close();
    expect(Date.now() - closing).toBeLessThan(30_000);
    await locker.query('COMMIT');

    second = await startTestApp(overrides, t.dataDir);
    first = undefined;
    const end = Date.now() + 90_000;
    let row = await second.app.catalog.jobs.get(id);
    while (!['succeeded', 'failed', 'cancelled'].includes(row.state) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      row = await second.app.catalog.jobs.get(id);
    }
    expect(row.state, JSON.stringify(row.error)).toBe('succeeded');
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    const points = await second.app.catalog.recoveryPoints.list({});
    expect(points).toHaveLength(1);
    expect(points[0]!.jobId).toBe(id);
  });
});
