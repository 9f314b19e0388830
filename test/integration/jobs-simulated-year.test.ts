/** The simulated year at the service level: a daily 02:00 Europe/Berlin policy with Weekly, Monthly and
 *  Yearly rules runs for all of 2026 on a PostgreSQL 15 catalog, driven by a ManualClock through the real
 *  scheduler, pg-boss queue and worker. The backup handler tags and dates each recovery point with
 *  lib/retention and commits it through the attempt fence; a retention job after each backup soft-deletes
 *  what pointsToExpire() selects. At the end exactly the expected recovery points are available and every
 *  other one was expired (soft-deleted) on its due day. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startCluster, type PgCluster } from '../support/index.ts';
import { openCatalog, type Catalog } from '../../src/catalog/index.ts';
import { enqueueJob, Scheduler, startJobQueue, Worker, type JobQueue } from '../../src/jobs/index.ts';
import {
  expiryFor,
  ManualClock,
  occurrencesBetween,
  parseRetentionRules,
  parseSchedule,
  pointsToExpire,
  tagFor,
} from '../../src/lib/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'pgvault-jobs-year-'));
let cluster: PgCluster | undefined;
let catalog: Catalog | undefined;
let queue: JobQueue | undefined;

afterAll(async () => {
  await queue?.stop().catch(() => undefined);
  await catalog?.close().catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
  await cluster?.stop();
});

it('a year of daily backups keeps exactly the expected recovery points', async () => {
  const zone = 'Europe/Berlin';
  const ruleInput = [
    { tag: 'Default' as const, duration: 'P7D', priority: 0 },
    { tag: 'Weekly' as const, duration: 'P4W', priority: 10 },
    { tag: 'Monthly' as const, duration: 'P3M', priority: 20 },
    { tag: 'Yearly' as const, duration: 'P10Y', priority: 30 },
  ];
  const rules = parseRetentionRules(ruleInput);
  const clock = new ManualClock('2025-12-31T12:00:00Z');
  cluster = await startCluster({ major: 15 });
  await cluster.createDatabase('year');
  catalog = await openCatalog({ kind: 'postgres', url: cluster.url('year') }, { clock });
  const cat = catalog;
  // No pg-boss maintenance in this process: a supervise pass that catches a key busy makes pg-boss hold that
  // key's next job back until the following pass (job-queue.ts), which a year compressed into seconds would
  // hit on most days. No lease can lapse here; the unique index still allows one active job per key.
  queue = await startJobQueue({ connection: { kind: 'catalog', catalog: cat }, leaseSeconds: 30, supervise: false });
  const vault = await cat.vaults.create({ name: 'v', storageUrl: 'file:///srv/v', keyReference: 'env:K' });
  const policy = await cat.policies.create({
    vaultId: vault.id, name: 'daily', schedules: [{ repeatingInterval: 'R/2026-01-01T02:00:00/P1D', timeZone: zone }], retentionRules: ruleInput,
  });
  const instance = await cat.backupInstances.create({
    name: 'db1', policyId: policy.id, credentialReference: 'env:PW',
    datasource: { kind: 'database', serverUrl: 'postgresql://u@h:5432/postgres', databaseName: 'db1' },
  });

  const worker = new Worker({ catalog: cat, queue, clock });
  worker.registerHandler('backup', async (ctx) => {
    const now = clock.now();
    const previous = await cat.recoveryPoints.list({ instanceId: instance.id });
    const tag = tagFor({ createdAt: now }, previous, rules, zone);
    await ctx.commit(async (q) => {
      await q.recoveryPoints.insert({
        vaultId: vault.id, instanceId: instance.id, manifestId: `m-${now.toISOString()}`, jobId: ctx.job.id, datasourceKind: 'database',
        tags: [tag], createdAt: now, expiresAt: expiryFor(now, tag, rules), sizeBytes: 1, storedBytes: 1, entries: [],
      }, ctx.fence);
    });
    return { tag };
  });
  worker.registerHandler('retention', async () => {
    const available = await cat.recoveryPoints.list({ instanceId: instance.id, state: 'available' });
    let expired = 0;
    for (const p of pointsToExpire(available.map((r) => ({ ...r, instanceId: r.instanceId! })), clock.now())) {
      if (await cat.recoveryPoints.expire(p.id)) expired++;
    }
    return { expired };
  });
  const scheduler = new Scheduler({ catalog: cat, queue, clock, onError: (e) => { throw e; } });
  let idleSleeps = 0;
  const drain = async (): Promise<number> => {
    let n = 0;
    for (let idle = 0; idle < 250; ) {
      const r = await worker.runOnce();
      if (r === null) {
        idle++;
        idleSleeps++;
        await new Promise((res) => setTimeout(res, 20));
        continue;
      }
      expect(r.outcome).toBe('succeeded');
      n++;
      if (n === 2) return n;
      if ((await cat.jobs.get(r.jobId)).type === 'backup') {
        await enqueueJob(cat, queue!, { type: 'retention', vaultId: vault.id, requestedBy: 'test' }, clock);
      }
    }
    return n;
  };

  const started = performance.now();
  const days = occurrencesBetween(parseSchedule('R/2026-01-01T02:00:00/P1D', zone), new Date('2025-12-31T12:00:00Z'), new Date('2026-12-31T12:00:00Z'));
  expect(days).toHaveLength(365);
  let tickMs = 0;
  let drainMs = 0;
  for (const at of days) {
    clock.set(at);
    const t0 = performance.now();
    const enqueued = await scheduler.tick();
    const t1 = performance.now();
    expect(enqueued).toHaveLength(1);
    expect(await drain()).toBe(2);
    tickMs += t1 - t0;
    drainMs += performance.now() - t1;
  }
  const elapsedS = (performance.now() - started) / 1000;
  console.log(`simulated year: 365 scheduled backups + 365 retention jobs in ${elapsedS.toFixed(1)} s ` +
    `(scheduler ${(tickMs / 1000).toFixed(1)} s, worker ${(drainMs / 1000).toFixed(1)} s, ${idleSleeps} empty claims)`);

  const day = (d: Date): string => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(d);
  const points = await cat.recoveryPoints.list({ instanceId: instance.id, limit: 1000 });
  expect(points).toHaveLength(365);
  const available = points.filter((p) => p.state === 'available').map((p) => `${day(p.createdAt)} ${p.tags.join(',')}`).sort();
  expect(available).toEqual([
    '2026-01-01 Yearly',
    '2026-10-01 Monthly',
    '2026-11-01 Monthly',
    '2026-12-01 Monthly',
    '2026-12-07 Weekly',
    '2026-12-14 Weekly',
    '2026-12-21 Weekly',
    '2026-12-25 Default',
    '2026-12-26 Default',
    '2026-12-27 Default',
    '2026-12-28 Weekly',
    '2026-12-29 Default',
    '2026-12-30 Default',
    '2026-12-31 Default',
  ]);
  // Every other point was soft-deleted by the retention run of the day its expiry came due.
  const deleted = points.filter((p) => p.state === 'soft_deleted');
  expect(deleted).toHaveLength(351);
  for (const p of deleted) {
    const dueRun = days.find((d) => d.getTime() >= p.expiresAt!.getTime())!;
    expect(p.softDeletedAt?.toISOString()).toBe(dueRun.toISOString());
  }
  const byTag = (tag: string): number => points.filter((p) => p.tags[0] === tag).length;
  // 52 Mondays start ISO weeks in 2026; Monday 1 June is Monthly instead. Thursday 1 January is Yearly.
  expect([byTag('Yearly'), byTag('Monthly'), byTag('Weekly')]).toEqual([1, 11, 51]);
  // A guard against pathological slowness only: the figure is printed above (about 15–70 s on 2 shared cores).
  expect(elapsedS).toBeLessThan(240);
}, 180_000);
