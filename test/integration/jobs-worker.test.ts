/** The worker loop on a catalog in PGlite and in a real PostgreSQL 15: success mirrors figures and log lines
 *  into the job row; transient errors are retried with backoff as new attempts; other errors fail the job at
 *  once with code, message and hint; a job type without handler fails coded; stopping a worker requeues its
 *  job; one job per instance at a time while heartbeats keep a long attempt's lease; an attempt whose job
 *  was taken over can commit nothing (fencing) and leaves the new attempt's result alone. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog, TransientErrorJobAttemptSuperseded, type Catalog } from '../../src/catalog/index.ts';
import { enqueueJob, reconcileJobs, startJobQueue, Worker, type AttemptOutcome, type JobQueue } from '../../src/jobs/index.ts';
import { TransientError, UserErrorInvalidInput } from '../../src/lib/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

class TransientErrorTestFlaky extends TransientError {}

let cluster: PgCluster | undefined;
const closers: Array<() => Promise<unknown>> = [];
const tmp = mkdtempSync(join(tmpdir(), 'pgvault-jobs-worker-'));

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

type Backend = 'postgres' | 'pglite';

async function setup(backend: Backend): Promise<{ catalog: Catalog; queue: JobQueue; instanceId: string; vaultId: string }> {
  let catalog: Catalog;
  if (backend === 'postgres') {
    await cluster!.createDatabase('worker');
    catalog = await openCatalog({ kind: 'postgres', url: cluster!.url('worker') });
  } else {
    catalog = await openCatalog({ kind: 'embedded', dataDir: mkdtempSync(join(tmp, 'data-')) });
  }
  const queue = await startJobQueue({ connection: { kind: 'catalog', catalog }, leaseSeconds: 10, retryDelaySeconds: 1, retryLimit: 3, superviseIntervalSeconds: 1 });
  closers.push(() => catalog.close(), () => queue.stop());
  const vault = await catalog.vaults.create({ name: 'v', storageUrl: 'file:///srv/v', keyReference: 'env:K' });
  const policy = await catalog.policies.create({
    vaultId: vault.id, name: 'p', schedules: [{ repeatingInterval: 'R/2026-01-01T00:00:00/P1D', timeZone: 'UTC' }],
    retentionRules: [{ tag: 'Default', duration: 'P7D', priority: 0 }],
  });
  const instance = await catalog.backupInstances.create({
    name: 'db1', policyId: policy.id, credentialReference: 'env:PW',
    datasource: { kind: 'database', serverUrl: 'postgresql://u@h:5432/postgres', databaseName: 'db1' },
  });
  return { catalog, queue, instanceId: instance.id, vaultId: vault.id };
}

/** Runs the worker until it has worked on one job (waiting out retry backoff), up to a deadline. */
async function runOne(worker: Worker, deadlineMs = 20_000): Promise<{ jobId: string; outcome: AttemptOutcome }> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const r = await worker.runOnce();
    if (r !== null) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('no job became ready in time');
}

describe.each<Backend>(['postgres', 'pglite'])('worker on %s', (backend) => {
  let env: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    env = await setup(backend);
  });

  it('runs a job to success and mirrors figures, attempts and log lines', async () => {
    const job = await enqueueJob(env.catalog, env.queue, { type: 'backup', instanceId: env.instanceId, vaultId: env.vaultId, requestedBy: 'test' });
    const worker = new Worker({ catalog: env.catalog, queue: env.queue });
    worker.registerHandler('backup', async (ctx) => {
      expect(ctx.job.id).toBe(job.id);
      expect(ctx.attempt).toBe(1);
      await ctx.progress({ bytesDumped: 512 });
      await ctx.log('info', 'dumping db1');
      return { bytesDumped: 1024, bytesNew: 100 };
    });
    expect(await runOne(worker)).toEqual({ jobId: job.id, outcome: 'succeeded' });
    const row = await env.catalog.jobs.get(job.id);
    expect(row).toMatchObject({ state: 'succeeded', attempts: 1, figures: { bytesDumped: 1024, bytesNew: 100 }, progress: { bytesDumped: 512 }, error: null });
    expect(row.finishedAt).not.toBeNull();
    const logs = (await env.catalog.jobs.logs(job.id)).map((l) => l.message);
    expect(logs[0]).toMatch(/^attempt 1 \(att_[0-9a-f-]+\) started$/);
    expect(logs[1]).toBe('dumping db1');
    expect(await env.queue.state(row.queueJobId!)).toBe('completed');
  });

  it('retries transient errors with backoff as new attempts, then succeeds', async () => {
    const job = await enqueueJob(env.catalog, env.queue, { type: 'verify', instanceId: env.instanceId, requestedBy: 'test' });
    const worker = new Worker({ catalog: env.catalog, queue: env.queue });
    const attemptIds: string[] = [];
    worker.registerHandler('verify', async (ctx) => {
      attemptIds.push(ctx.attemptId);
      if (ctx.attempt < 3) throw new TransientErrorTestFlaky(`storage throttled on attempt ${ctx.attempt}`, { hint: 'wait' });
      return { verified: true };
    });
    const started = Date.now();
    expect((await runOne(worker)).outcome).toBe('retrying');
    const between = await env.catalog.jobs.get(job.id);
    expect(between).toMatchObject({ state: 'queued', attempts: 1, error: { code: 'TransientErrorTestFlaky' } });
    expect((await runOne(worker)).outcome).toBe('retrying');
    expect((await runOne(worker)).outcome).toBe('succeeded');
    // Backoff: retryDelay 1 s doubling with jitter, so two retries wait at least 1 s + 2 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect(new Set(attemptIds).size).toBe(3);
    expect(await env.catalog.jobs.get(job.id)).toMatchObject({ state: 'succeeded', attempts: 3, error: null, figures: { verified: true } });
  });

  it('fails a non-transient error at once, with code, message and hint, and never retries it', async () => {
    const job = await enqueueJob(env.catalog, env.queue, { type: 'check', vaultId: env.vaultId, requestedBy: 'test' });
    const worker = new Worker({ catalog: env.catalog, queue: env.queue });
    let calls = 0;
    worker.registerHandler('check', async () => {
      calls++;
      throw new UserErrorInvalidInput('database "db1" has no table "x"', { hint: 'Check the table name.' });
    });
    expect((await runOne(worker)).outcome).toBe('failed');
    expect(await worker.runOnce()).toBeNull();
    expect(calls).toBe(1);
    const row = await env.catalog.jobs.get(job.id);
    expect(row).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'UserErrorInvalidInput', message: 'database "db1" has no table "x"', hint: 'Check the table name.' } });
    expect(await env.queue.state(row.queueJobId!)).toBe('cancelled');
  });

  it('fails a job whose type has no handler with a coded error', async () => {
    const job = await enqueueJob(env.catalog, env.queue, { type: 'prune', vaultId: env.vaultId, requestedBy: 'test' });
    const worker = new Worker({ catalog: env.catalog, queue: env.queue });
    expect((await runOne(worker)).outcome).toBe('failed');
    expect((await env.catalog.jobs.get(job.id)).error?.code).toBe('InternalErrorJobHandlerMissing');
  });

  it('stopping a worker puts its running job back in the queue instead of failing it', async () => {
    const job = await enqueueJob(env.catalog, env.queue, { type: 'verify', vaultId: env.vaultId, exclusiveKey: 'stop-test', requestedBy: 'test' });
    const worker = new Worker({ catalog: env.catalog, queue: env.queue, pollIntervalMs: 50 });
    let started!: () => void;
    const running = new Promise<void>((r) => { started = r; });
    worker.registerHandler('verify', (ctx) => new Promise((_resolve, reject) => {
      started();
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    }));
    worker.start();
    await running;
    await worker.stop();
    expect(await env.catalog.jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 1, error: { code: 'TransientErrorWorkerStopping' } });
    const next = new Worker({ catalog: env.catalog, queue: env.queue });
    next.registerHandler('verify', async () => ({ resumed: true }));
    expect(await runOne(next)).toEqual({ jobId: job.id, outcome: 'succeeded' });
    expect(await env.catalog.jobs.get(job.id)).toMatchObject({ state: 'succeeded', attempts: 2, figures: { resumed: true } });
  });

  it('reconciles a job the queue gave up on: the catalog marks it failed and fences the lost attempt out', async () => {
    const job = await enqueueJob(env.catalog, env.queue, { type: 'backup', vaultId: env.vaultId, exclusiveKey: 'reconcile-test', requestedBy: 'test' });
    // An attempt starts in the catalog, then the queue ends the job without it (as after a lease lost on the last retry).
    await env.catalog.jobs.start(job.id, 'att_lost');
    let claim = null;
    for (let i = 0; i < 100 && claim === null; i++) {
      claim = await env.queue.claim();
      if (claim === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(claim?.payload.jobId).toBe(job.id);
    expect(await reconcileJobs(env.catalog, env.queue)).toEqual([]);
    expect(await env.queue.fail(claim!, { code: 'x', message: 'y' }, { retry: false })).toBe('failed');
    expect(await reconcileJobs(env.catalog, env.queue)).toEqual([job.id]);
    expect(await env.catalog.jobs.get(job.id)).toMatchObject({ state: 'failed', error: { code: 'TransientErrorJobLeaseLost' } });
    await expect(env.catalog.jobs.succeed(job.id, 'att_lost', {})).rejects.toBeInstanceOf(TransientErrorJobAttemptSuperseded);
    expect(await reconcileJobs(env.catalog, env.queue)).toEqual([]);
  });

  it('runs one job per backup instance at a time while other instances proceed', async () => {
    const first = await enqueueJob(env.catalog, env.queue, { type: 'backup', instanceId: env.instanceId, requestedBy: 'test' });
    const second = await enqueueJob(env.catalog, env.queue, { type: 'backup', instanceId: env.instanceId, requestedBy: 'test' });
    const other = await enqueueJob(env.catalog, env.queue, { type: 'check', vaultId: env.vaultId, requestedBy: 'test' });
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const a = new Worker({ catalog: env.catalog, queue: env.queue });
    a.registerHandler('backup', async () => { await gate; return {}; });
    const b = new Worker({ catalog: env.catalog, queue: env.queue });
    const ranByB: string[] = [];
    b.registerHandler('backup', async (ctx) => { ranByB.push(ctx.job.id); return {}; });
    b.registerHandler('check', async (ctx) => { ranByB.push(ctx.job.id); return {}; });
    const running = runOne(a);
    // Wait until a holds the first backup, then let b work: b takes the check (once pg-boss's supervise pass has
    // listed the instance as busy, a few seconds), never the second backup, and not the first either: a's
    // heartbeats keep its 10 s lease alive however long it works.
    for (let i = 0; i < 100 && (await env.catalog.jobs.get(first.id)).state !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    const until = Date.now() + 25_000;
    let quietUntil = Number.POSITIVE_INFINITY;
    while (Date.now() < Math.min(until, quietUntil)) {
      if ((await b.runOnce()) === null) await new Promise((r) => setTimeout(r, 100));
      if (ranByB.length > 0 && quietUntil === Number.POSITIVE_INFINITY) quietUntil = Date.now() + 12_000;
    }
    expect(ranByB).toEqual([other.id]);
    expect((await env.catalog.jobs.get(second.id)).state).toBe('queued');
    release();
    expect(await running).toEqual({ jobId: first.id, outcome: 'succeeded' });
    expect(await runOne(b)).toEqual({ jobId: second.id, outcome: 'succeeded' });
  });
  it('fences a superseded attempt: its commit is refused and the new attempt result stands', async () => {
    // Last in the file: the takeover happens in the catalog only, so the queue keeps this attempt's claim until
    // its lease lapses (as it would for a real stale attempt), holding the 'fence-test' key meanwhile.
    const job = await enqueueJob(env.catalog, env.queue, { type: 'restore', instanceId: env.instanceId, exclusiveKey: 'fence-test', requestedBy: 'test' });
    const worker = new Worker({ catalog: env.catalog, queue: env.queue });
    let refused: unknown;
    worker.registerHandler('restore', async (ctx) => {
      // While this attempt works, another attempt takes the job over (as after a lost lease) and finishes it.
      await env.catalog.jobs.start(job.id, 'att_takeover');
      await env.catalog.jobs.succeed(job.id, 'att_takeover', { by: 'takeover' });
      try {
        await ctx.commit(async (q) => {
          await q.jobs.log(job.id, 'info', 'must never be written');
        });
      } catch (err) {
        refused = err;
      }
      await expect(ctx.progress({ late: true })).rejects.toBeInstanceOf(TransientErrorJobAttemptSuperseded);
      return { by: 'stale attempt' };
    });
    expect((await runOne(worker)).outcome).toBe('lease-lost');
    expect(refused).toBeInstanceOf(TransientErrorJobAttemptSuperseded);
    const row = await env.catalog.jobs.get(job.id);
    expect(row).toMatchObject({ state: 'succeeded', attempts: 2, attemptId: 'att_takeover', figures: { by: 'takeover' } });
    expect((await env.catalog.jobs.logs(job.id)).map((l) => l.message)).not.toContain('must never be written');
  });
});
