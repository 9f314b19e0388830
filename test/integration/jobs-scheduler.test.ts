/** The scheduler and missed-backup detection on a catalog in PGlite and in a real PostgreSQL 15, driven by a
 *  ManualClock: each due occurrence becomes exactly one backup job (also across the Europe/Berlin DST changes),
 *  a process that was down runs only the latest missed occurrence once, two schedulers in two "processes"
 *  (separate pools and pg-boss instances) racing on one PostgreSQL enqueue every occurrence exactly once, and an
 *  instance without a successful backup within its period plus grace is flagged. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../../src/catalog/index.ts';
import { findMissedBackups, Scheduler, startJobQueue, Worker, type JobQueue } from '../../src/jobs/index.ts';
import { ManualClock } from '../../src/lib/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

let cluster: PgCluster | undefined;
const closers: Array<() => Promise<unknown>> = [];
const tmp = mkdtempSync(join(tmpdir(), 'pgvault-jobs-scheduler-'));

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

type Backend = 'postgres' | 'pglite';
let dbCounter = 0;

async function openBoth(backend: Backend, clock: ManualClock): Promise<{ catalog: Catalog; queue: JobQueue; url?: string }> {
  let catalog: Catalog;
  let url: string | undefined;
  if (backend === 'postgres') {
    const name = `sched_${++dbCounter}`;
    await cluster!.createDatabase(name);
    url = cluster!.url(name);
    catalog = await openCatalog({ kind: 'postgres', url }, { clock });
  } else {
    catalog = await openCatalog({ kind: 'embedded', dataDir: mkdtempSync(join(tmp, 'data-')) }, { clock });
  }
  const queue = await startJobQueue({ connection: { kind: 'catalog', catalog }, leaseSeconds: 10, superviseIntervalSeconds: 1 });
  closers.push(() => catalog.close(), () => queue.stop());
  return { catalog, queue, ...(url === undefined ? {} : { url }) };
}

async function protect(catalog: Catalog, name: string, schedule: string, timeZone: string): Promise<string> {
  const vault = (await catalog.vaults.find('v1')) ?? (await catalog.vaults.create({ name: 'v1', storageUrl: 'file:///srv/vault', keyReference: 'env:VAULT_KEY' }));
  const policy = await catalog.policies.create({
    vaultId: vault.id,
    name: `p-${name}`,
    schedules: [{ repeatingInterval: schedule, timeZone }],
    retentionRules: [{ tag: 'Default', duration: 'P30D', priority: 0 }],
  });
  const instance = await catalog.backupInstances.create({
    name,
    policyId: policy.id,
    datasource: { kind: 'database', serverUrl: 'postgresql://backup@db.example.com:5432/postgres', databaseName: name },
    credentialReference: 'secret:db-password',
  });
  return instance.id;
}

const iso = (d: Date): string => d.toISOString();

describe.each<Backend>(['pglite', 'postgres'])('scheduler on %s', (backend) => {
  it('enqueues each daily Europe/Berlin occurrence once, across the March and October DST changes', async () => {
    const clock = new ManualClock('2026-03-27T10:00:00Z');
    const { catalog, queue } = await openBoth(backend, clock);
    const id = await protect(catalog, 'berlin', 'R/2026-01-01T02:30:00/P1D', 'Europe/Berlin');
    const scheduler = new Scheduler({ catalog, queue, clock, onError: (e) => { throw e; } });
    const seen: string[] = [];
    const tickUntil = async (until: string, stepMs = 15 * 60_000): Promise<void> => {
      while (clock.now().getTime() < new Date(until).getTime()) {
        clock.advance(stepMs);
        for (const e of await scheduler.tick()) seen.push(iso(e.scheduledFor));
      }
    };
    await tickUntil('2026-03-31T02:00:00Z');
    expect(seen).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:30:00.000Z', // 02:30 does not exist: runs once at 03:30 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    seen.length = 0;
    clock.set('2026-10-24T12:00:00Z');
    // The first tick after a jump runs the latest missed occurrence once: 24 October.
    await tickUntil('2026-10-26T12:00:00Z');
    expect(seen).toEqual([
      '2026-10-24T00:30:00.000Z', // the latest occurrence missed during the jump, once
      '2026-10-25T00:30:00.000Z', // the first 02:30 (CEST) on the fall-back day, and only that one
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
    const jobs = await catalog.jobs.list({ instanceId: id, type: 'backup' });
    expect(jobs).toHaveLength(7);
    expect(jobs.every((j) => j.state === 'queued' && j.requestedBy === 'scheduler' && j.queueJobId !== null)).toBe(true);
    const occurrences = await catalog.scheduleOccurrences.list(id);
    expect(occurrences.map((o) => o.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
  });

  it('after downtime runs only the latest missed occurrence, once, and never occurrences before the instance existed', async () => {
    const clock = new ManualClock('2026-05-01T12:00:00Z');
    const { catalog, queue } = await openBoth(backend, clock);
    const id = await protect(catalog, 'downtime', 'R/2026-01-01T01:00:00/PT6H', 'UTC');
    const scheduler = new Scheduler({ catalog, queue, clock, onError: (e) => { throw e; } });
    // Created at 12:00: the 07:00 occurrence of that day predates the instance and is not "missed".
    expect(await scheduler.tick()).toEqual([]);
    clock.set('2026-05-01T13:00:00Z');
    const first = await scheduler.tick();
    expect(first.map((e) => iso(e.scheduledFor))).toEqual(['2026-05-01T13:00:00.000Z']);
    // Down for four days: sixteen occurrences missed, one job.
    clock.set('2026-05-05T20:00:00Z');
    const after = await scheduler.tick();
    expect(after.map((e) => iso(e.scheduledFor))).toEqual(['2026-05-05T19:00:00.000Z']);
    expect(await scheduler.tick()).toEqual([]);
    expect(await catalog.jobs.list({ instanceId: id })).toHaveLength(2);
  });

  it('flags an instance whose schedule came due without a successful backup within the grace, and clears it after one', async () => {
    const clock = new ManualClock('2026-06-01T00:00:00Z');
    const { catalog, queue } = await openBoth(backend, clock);
    const id = await protect(catalog, 'missed', 'R/2026-01-01T03:00:00/P1D', 'UTC');
    // A schedule that has not started yet is never overdue.
    await protect(catalog, 'later', 'R/2026-07-01T03:00:00/P1D', 'UTC');
    const graceMs = 2 * 3600_000;
    const flaggedAt = async (at: string): Promise<Array<[string, string | null, string]>> => {
      clock.set(at);
      return (await findMissedBackups(catalog, clock.now(), { graceMs })).map((m) => [m.instanceName, m.lastSuccessAt && iso(m.lastSuccessAt), iso(m.overdueSince)]);
    };
    expect(await flaggedAt('2026-06-01T04:59:00Z')).toEqual([]);
    expect(await flaggedAt('2026-06-01T05:01:00Z')).toEqual([['missed', null, '2026-06-01T05:00:00.000Z']]);
    // The backup runs late but succeeds (through the real scheduler, queue and worker): the flag clears.
    const scheduler = new Scheduler({ catalog, queue, clock, onError: (e) => { throw e; } });
    expect(await scheduler.tick()).toHaveLength(1);
    const worker = new Worker({ catalog, queue, clock });
    worker.registerHandler('backup', async () => ({ bytesDumped: 1 }));
    let result = null;
    for (let i = 0; i < 100 && result === null; i++) {
      result = await worker.runOnce();
      if (result === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(result?.outcome).toBe('succeeded');
    expect(await catalog.jobs.get(result!.jobId)).toMatchObject({ instanceId: id, state: 'succeeded' });
    expect(await flaggedAt('2026-06-02T04:59:00Z')).toEqual([]);
    expect(await flaggedAt('2026-06-02T05:01:00Z')).toEqual([['missed', '2026-06-01T05:01:00.000Z', '2026-06-02T05:00:00.000Z']]);
    expect(await flaggedAt('2026-07-01T05:01:00Z')).toEqual([
      ['missed', '2026-06-01T05:01:00.000Z', '2026-06-02T05:00:00.000Z'],
      ['later', null, '2026-07-01T05:00:00.000Z'],
    ]);
  });
});

describe('two schedulers racing on one PostgreSQL catalog', () => {
  it('enqueue every occurrence exactly once between them', async () => {
    const clock = new ManualClock('2026-02-01T00:00:00Z');
    const a = await openBoth('postgres', clock);
    // The second "process": its own pool, its own pg-boss, the same database.
    const bCatalog = await openCatalog({ kind: 'postgres', url: a.url! }, { clock });
    const bQueue = await startJobQueue({ connection: { kind: 'catalog', catalog: bCatalog }, leaseSeconds: 10 });
    closers.push(() => bCatalog.close(), () => bQueue.stop());
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await protect(a.catalog, `race-${i}`, 'R/2026-01-01T00:00:00/PT1H', 'Asia/Kolkata'));
    const sa = new Scheduler({ catalog: a.catalog, queue: a.queue, clock, onError: (e) => { throw e; } });
    const sb = new Scheduler({ catalog: bCatalog, queue: bQueue, clock, onError: (e) => { throw e; } });
    const won: string[] = [];
    for (let hour = 1; hour <= 5; hour++) {
      clock.set(new Date(Date.UTC(2026, 1, 1, hour, 40)));
      const results = await Promise.all([sa.tick(), sb.tick(), sa.tick(), sb.tick()]);
      for (const e of results.flat()) won.push(`${e.instanceId}@${iso(e.scheduledFor)}`);
    }
    // Kolkata is UTC+05:30: the hourly occurrences fall at hh:30 UTC.
    const expected = ids.flatMap((id) => [1, 2, 3, 4, 5].map((h) => `${id}@2026-02-01T0${h}:30:00.000Z`));
    const rows = await a.catalog.executor.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs');
    const queued = await a.catalog.executor.query<{ n: number }>("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'pgvault-jobs'");
    expect(rows[0]!.n).toBe(expected.length);
    expect(queued[0]!.n).toBe(expected.length);
    const occurrences = await a.catalog.executor.query<{ n: number }>('SELECT count(*)::int AS n FROM schedule_occurrences WHERE job_id IS NOT NULL');
    expect(occurrences[0]!.n).toBe(expected.length);
    // Every occurrence was won by exactly one of the four racing ticks.
    expect([...won].sort()).toEqual([...expected].sort());
  });
});
