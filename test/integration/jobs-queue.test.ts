/** The pg-boss queue adapter on a real PostgreSQL 15 and on PGlite: the 'singleton' policy keeps one
 *  active job per exclusive key while others run, settles are fenced to the claimed attempt, a failure
 *  without retry ends the job, a transient failure is retried, and an enqueue inside a rolled-back
 *  transaction leaves no job. */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobQueue, type JobQueue } from '../../src/jobs/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

let cluster: PgCluster | undefined;
const opened: JobQueue[] = [];
const pglites: PGlite[] = [];

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  await cluster.createDatabase('jobs_queue');
});

afterAll(async () => {
  for (const q of opened) await q.stop().catch(() => undefined);
  for (const p of pglites) await p.close().catch(() => undefined);
  await cluster?.stop();
});

type Backend = 'postgres' | 'pglite';

async function openQueue(backend: Backend): Promise<{ queue: JobQueue; tx: (fn: (q: (sql: string, p?: readonly unknown[]) => Promise<Record<string, unknown>[]>) => Promise<void>) => Promise<void> }> {
  if (backend === 'postgres') {
    const url = cluster!.url('jobs_queue');
    const queue = await startJobQueue({ connection: { kind: 'postgres', connectionString: url }, leaseSeconds: 10, retryDelaySeconds: 1, superviseIntervalSeconds: 1 });
    opened.push(queue);
    return {
      queue,
      tx: async (fn) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query('BEGIN');
          await fn(async (sql, p) => (await client.query(sql, p as unknown[])).rows);
          await client.query('ROLLBACK');
        } finally {
          await client.end();
        }
      },
    };
  }
  const db = new PGlite();
  pglites.push(db);
  const queue = await startJobQueue({ connection: { kind: 'pglite', pglite: db }, leaseSeconds: 10, retryDelaySeconds: 1, superviseIntervalSeconds: 1 });
  opened.push(queue);
  return {
    queue,
    tx: async (fn) => {
      await db.transaction(async (t) => {
        await fn(async (sql, p) => (await t.query<Record<string, unknown>>(sql, p as unknown[])).rows);
        await t.rollback();
      });
    },
  };
}

describe.each<Backend>(['postgres', 'pglite'])('job queue on %s', (backend) => {
  let queue: JobQueue;
  let tx: Awaited<ReturnType<typeof openQueue>>['tx'];
  beforeAll(async () => {
    ({ queue, tx } = await openQueue(backend));
  });

  it('keeps one active job per exclusive key and hands out other keys meanwhile', async () => {
    const a1 = await queue.enqueue({ jobId: `${backend}-a1`, type: 'backup' }, { exclusiveKey: `${backend}-A` });
    const a2 = await queue.enqueue({ jobId: `${backend}-a2`, type: 'backup' }, { exclusiveKey: `${backend}-A` });
    const b1 = await queue.enqueue({ jobId: `${backend}-b1`, type: 'backup' }, { exclusiveKey: `${backend}-B` });
    const first = await queue.claim();
    expect(first?.queueJobId).toBe(a1);
    expect(first?.attempt).toBe(1);
    expect(first?.payload).toEqual({ jobId: `${backend}-a1`, type: 'backup' });
    // a2 is next in line but its key is busy: a2 must not become active while a1 is, and b1 is handed out
    // (at the latest once pg-boss's singleton cache, refreshed every supervise interval, lists key A as busy).
    let b = null;
    for (let i = 0; i < 200 && b === null; i++) {
      const c = await queue.claim();
      expect(c?.queueJobId).not.toBe(a2);
      if (c === null) await new Promise((r) => setTimeout(r, 100));
      else b = c;
    }
    expect(b?.queueJobId).toBe(b1);
    expect(await queue.state(a2)).toBe('created');
    expect(await queue.complete(b!)).toBe(true);
    expect(await queue.complete(first!)).toBe(true);
    // Settling twice is refused: the attempt no longer holds the job.
    expect(await queue.complete(first!)).toBe(false);
    expect(await queue.heartbeat(first!)).toBe(false);
    let next = null;
    for (let i = 0; i < 200 && next === null; i++) {
      next = await queue.claim();
      if (next === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(next?.queueJobId).toBe(a2);
    expect(await queue.heartbeat(next!)).toBe(true);
    await queue.complete(next!);
  });

  it('ends a job for good on a non-retryable failure and retries a transient one with the next attempt', async () => {
    const p = await queue.enqueue({ jobId: `${backend}-perm`, type: 'check' }, { exclusiveKey: `${backend}-P` });
    const c = await queue.claim();
    expect(c?.payload.jobId).toBe(`${backend}-perm`);
    expect(c?.queueJobId).toBe(p);
    expect(await queue.fail(c!, { code: 'UserErrorInvalidInput', message: 'bad' }, { retry: false })).toBe('failed');
    expect(await queue.state(p)).toBe('cancelled');

    const t = await queue.enqueue({ jobId: `${backend}-trans`, type: 'check' }, { exclusiveKey: `${backend}-T` });
    const c1 = await queue.claim();
    expect(c1?.queueJobId).toBe(t);
    expect(await queue.fail(c1!, { code: 'TransientErrorStorageUnavailable', message: 'later' }, { retry: true })).toBe('retrying');
    expect(await queue.state(t)).toBe('retry');
    // The stale attempt cannot settle the retried job.
    expect(await queue.complete(c1!)).toBe(false);
    let c2 = null;
    for (let i = 0; i < 200 && c2 === null; i++) {
      c2 = await queue.claim();
      if (c2 === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(c2?.queueJobId).toBe(t);
    expect(c2?.attempt).toBe(2);
    expect(await queue.complete(c2!)).toBe(true);
    expect(await queue.state(t)).toBe('completed');
  });

  it('enqueues inside a caller transaction: a rollback leaves no job', async () => {
    let id = '';
    await tx(async (q) => {
      id = await queue.enqueue({ jobId: `${backend}-rolled-back`, type: 'backup' }, { exclusiveKey: `${backend}-R`, tx: { query: q } });
      expect(id).toMatch(/[0-9a-f-]{36}/);
    });
    expect(await queue.state(id)).toBeNull();
    expect(await queue.claim()).toBeNull();
  });
});
