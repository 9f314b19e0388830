/** The job queue: a thin adapter over pg-boss 12 in the catalog database (PGlite or PostgreSQL) with the verbs
 *  enqueue/claim/heartbeat/complete/fail. Owns pg-boss's settings: one 'singleton' queue keyed per backup
 *  instance, heartbeat leases, retries with backoff, attempt-fenced settles. Never runs handlers and never
 *  reads the catalog's tables; the catalog's job row, not the queue, says whether a job failed and why. */
import type { PGlite } from '@electric-sql/pglite';
import { PgBoss, fromPglite, type CommandResponse, type Db, type JobWithMetadata } from 'pg-boss';
import type { Catalog } from '../catalog/index.ts';
import { InternalErrorUnexpected, PgvaultError, UserErrorInvalidInput } from '../lib/index.ts';
import { TransientErrorJobQueueUnavailable } from './jobs-errors.ts';

/** Where pg-boss keeps its tables: a schema of its own inside the catalog database. */
export const QUEUE_SCHEMA = 'pgboss';
/** The one pg-boss queue of pgvault. Persisted in the catalog: never rename. */
export const QUEUE_NAME = 'pgvault-jobs';

/** Where the queue lives: the catalog's own database (what serve uses), or an explicit database. */
export type QueueConnection =
  | { kind: 'catalog'; catalog: Pick<Catalog, 'pgBossOptions'> }
  | { kind: 'postgres'; connectionString: string; maxConnections?: number }
  | { kind: 'pglite'; pglite: PGlite };

export interface JobQueueOptions {
  connection: QueueConnection;
  /** An attempt that has not heartbeated for this long loses the job. pg-boss requires at least 10. */
  leaseSeconds?: number;
  /** Hard bound on one attempt, heartbeats or not (pg-boss expireInSeconds). Default 24 h. */
  maxAttemptSeconds?: number;
  /** Retries after the first attempt, for transient failures and lost leases. Default 5. */
  retryLimit?: number;
  /** First retry delay; doubles (with jitter) for every further retry. Default 30 s. */
  retryDelaySeconds?: number;
  /** Upper bound of the retry delay. Default 1 h. */
  retryDelayMaxSeconds?: number;
  /** How often pg-boss looks for lapsed leases and recounts busy keys. Default 5 s. */
  superviseIntervalSeconds?: number;
  /** Whether this process takes part in pg-boss's maintenance (lapsed leases, retention). Default true;
   *  at least one process sharing the catalog must. */
  supervise?: boolean;
  /** How often pg-boss refreshes its list of busy exclusive keys. Until it does, a queued job whose key is
   *  busy and that is first in line makes claim() return null for everyone (head-of-line). Default 2 s. */
  queueCacheIntervalSeconds?: number;
}

/** What a job carries through the queue: only ids, never parameters or credentials (they live in the catalog). */
export interface QueuePayload {
  jobId: string;
  type: string;
}

/** One claimed attempt. `attempt` is 1 for the first attempt and grows with every retry or takeover. */
export interface QueueClaim {
  readonly queueJobId: string;
  readonly retryCount: number;
  readonly attempt: number;
  readonly retryLimit: number;
  /** The lease: the claim is lost after this long without a heartbeat. */
  readonly leaseSeconds: number;
  readonly payload: QueuePayload;
}

/** Run statements inside a caller's transaction, so an enqueue commits or rolls back with it. */
export interface QueueTransaction {
  query(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
}

export interface EnqueueOptions {
  /** At most one job per key is active at a time (a backup instance id, or a vault id for vault-wide jobs). */
  exclusiveKey: string;
  /** Run not before this instant. */
  startAfter?: Date;
  /** Insert through this transaction instead of a connection of the queue's own. */
  tx?: QueueTransaction;
}

export type FailOutcome = 'retrying' | 'failed' | 'lease-lost';

/** The queue contract.
 *  Exclusion: at most one job per `exclusiveKey` is active (a unique index in pg-boss guarantees it); any
 *  number wait. pg-boss learns which keys are busy from a cache refreshed by its supervise pass, so a job
 *  whose key was busy a moment ago, or a queued job first in line whose key is busy, may wait up to
 *  superviseIntervalSeconds + queueCacheIntervalSeconds before it is handed out (latency, never overlap).
 *  Lease: an attempt that has not heartbeated for leaseSeconds is failed by pg-boss's supervisor (in any
 *  process with supervise on) and retried after the backoff; the lapsed attempt's settles then change nothing.
 *  Terminal failure cancels the queue job (pg-boss has no public "fail for good").
 *  enqueue() is atomic with `tx` when given; returns the queue job id.
 *  claim() returns at most one attempt, or null when nothing is ready (never blocks).
 *  heartbeat(), complete() and fail() act only if `claim` still holds its job; they return false /
 *  'lease-lost' when it does not (the lease expired and the job was retried, or it was cancelled). */
export interface JobQueue {
  enqueue(payload: QueuePayload, opts: EnqueueOptions): Promise<string>;
  claim(): Promise<QueueClaim | null>;
  heartbeat(claim: QueueClaim): Promise<boolean>;
  complete(claim: QueueClaim): Promise<boolean>;
  /** retry=false ends the job for good (pgvault retries only transient errors). */
  fail(claim: QueueClaim, error: { code: string; message: string }, opts: { retry: boolean }): Promise<FailOutcome>;
  /** The pg-boss state of a queue job ('created', 'retry', 'active', 'completed', 'cancelled', 'failed'), or
   *  null when the queue no longer holds it. */
  state(queueJobId: string): Promise<string | null>;
  /** Stops pg-boss and closes the pool it opened; never closes a PGlite or catalog it was given. */
  stop(): Promise<void>;
}

function wrap(operation: string, err: unknown): PgvaultError {
  if (err instanceof PgvaultError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || code.startsWith('E'))) {
    return new TransientErrorJobQueueUnavailable(operation, { cause: err, details: { code } });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new InternalErrorUnexpected(`job queue ${operation} failed: ${message}`, { cause: err });
}

/** pg-boss 12 returns { requested, affected, … } at run time; its typings declare an empty interface. */
function affected(res: CommandResponse): number {
  return Number((res as { affected?: unknown }).affected ?? 0);
}

class PgBossJobQueue implements JobQueue {
  constructor(
    private readonly boss: PgBoss,
    private readonly retryLimit: number,
    private readonly leaseSeconds: number,
  ) {}

  async enqueue(payload: QueuePayload, opts: EnqueueOptions): Promise<string> {
    if (!opts.exclusiveKey) {
      throw new UserErrorInvalidInput('a job needs an exclusive key', { hint: 'Pass the backup instance id (or vault id).' });
    }
    const db: Db | undefined =
      opts.tx === undefined
        ? undefined
        : { executeSql: async (text: string, values?: unknown[]) => ({ rows: await opts.tx!.query(text, values ?? []) }) };
    let id: string | null;
    try {
      id = await this.boss.send(QUEUE_NAME, { ...payload }, {
        singletonKey: opts.exclusiveKey,
        ...(opts.startAfter === undefined ? {} : { startAfter: opts.startAfter }),
        ...(db === undefined ? {} : { db }),
      });
    } catch (err) {
      throw wrap('enqueue', err);
    }
    if (id === null) {
      // The 'singleton' policy never refuses a queued job; null means pg-boss dropped it for another reason.
      throw new InternalErrorUnexpected(`the job queue refused job "${payload.jobId}"`, { details: { jobId: payload.jobId } });
    }
    return id;
  }

  async claim(): Promise<QueueClaim | null> {
    let jobs: JobWithMetadata<QueuePayload>[];
    try {
      jobs = await this.boss.fetch<QueuePayload>(QUEUE_NAME, { batchSize: 1, includeMetadata: true });
    } catch (err) {
      throw wrap('claim', err);
    }
    const j = jobs[0];
    if (j === undefined) return null;
    return {
      queueJobId: j.id,
      retryCount: j.retryCount,
      attempt: j.retryCount + 1,
      retryLimit: j.retryLimit ?? this.retryLimit,
      leaseSeconds: j.heartbeatSeconds ?? this.leaseSeconds,
      payload: j.data,
    };
  }

  async heartbeat(claim: QueueClaim): Promise<boolean> {
    try {
      const res = await this.boss.touch(QUEUE_NAME, { id: claim.queueJobId, retryCount: claim.retryCount });
      return affected(res) === 1;
    } catch (err) {
      throw wrap('heartbeat', err);
    }
  }

  async complete(claim: QueueClaim): Promise<boolean> {
    try {
      const res = await this.boss.complete(QUEUE_NAME, { id: claim.queueJobId, retryCount: claim.retryCount });
      return affected(res) === 1;
    } catch (err) {
      throw wrap('complete', err);
    }
  }

  async fail(claim: QueueClaim, error: { code: string; message: string }, opts: { retry: boolean }): Promise<FailOutcome> {
    const attempt = { id: claim.queueJobId, retryCount: claim.retryCount };
    try {
      if (!opts.retry) {
        // pg-boss has no public "fail without retry"; cancelling the attempt ends the queue job for good.
        // The catalog's job row, not the queue, records that the job failed and why.
        const res = await this.boss.cancel(QUEUE_NAME, attempt);
        return affected(res) === 1 ? 'failed' : 'lease-lost';
      }
      const res = await this.boss.fail(QUEUE_NAME, attempt, { code: error.code, message: error.message });
      if (affected(res) !== 1) return 'lease-lost';
      return claim.retryCount < claim.retryLimit ? 'retrying' : 'failed';
    } catch (err) {
      throw wrap('fail', err);
    }
  }

  async state(queueJobId: string): Promise<string | null> {
    const found = await this.boss.findJobs(QUEUE_NAME, { id: queueJobId });
    return found[0]?.state ?? null;
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: false, close: true, timeout: 5000 });
  }
}

/** Starts pg-boss on the catalog database (installing or migrating its schema, safe with several processes
 *  starting at once), creates pgvault's queue if missing and applies the lease and retry settings. */
export async function startJobQueue(opts: JobQueueOptions): Promise<JobQueue> {
  const leaseSeconds = opts.leaseSeconds ?? 60;
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 10) {
    throw new UserErrorInvalidInput(`lease of ${leaseSeconds} s is too short`, { hint: 'Use a whole number of at least 10 seconds.' });
  }
  const retryLimit = opts.retryLimit ?? 5;
  const supervise = opts.superviseIntervalSeconds ?? 5;
  const common = {
    schema: QUEUE_SCHEMA,
    superviseIntervalSeconds: supervise,
    monitorIntervalSeconds: supervise,
    queueCacheIntervalSeconds: opts.queueCacheIntervalSeconds ?? 2,
    schedule: false,
    supervise: opts.supervise ?? true,
  };
  const c = opts.connection;
  const boss =
    c.kind === 'catalog'
      ? new PgBoss({ max: 4, ...c.catalog.pgBossOptions(), ...common })
      : c.kind === 'pglite'
        ? new PgBoss({ ...common, db: fromPglite(c.pglite), backend: 'pglite' })
        : new PgBoss({ ...common, connectionString: c.connectionString, max: c.maxConnections ?? 4 });
  // pg-boss reports background errors as events; without a listener an EventEmitter 'error' would crash the process.
  boss.on('error', () => undefined);
  try {
    await boss.start();
    const queueOptions = {
      expireInSeconds: opts.maxAttemptSeconds ?? 24 * 3600,
      heartbeatSeconds: leaseSeconds,
      retryLimit,
      retryDelay: opts.retryDelaySeconds ?? 30,
      retryBackoff: true,
      retryDelayMax: opts.retryDelayMaxSeconds ?? 3600,
      retentionSeconds: 14 * 24 * 3600,
      deleteAfterSeconds: 7 * 24 * 3600,
    };
    const existing = await boss.getQueue(QUEUE_NAME);
    if (existing === null) {
      try {
        await boss.createQueue(QUEUE_NAME, { policy: 'singleton', ...queueOptions });
      } catch (err) {
        // Another process created it between our look and our create.
        if ((await boss.getQueue(QUEUE_NAME)) === null) throw err;
      }
    }
    const { heartbeatSeconds: _h, retryDelayMax: _m, ...updatable } = queueOptions;
    await boss.updateQueue(QUEUE_NAME, { ...updatable, heartbeatSeconds: leaseSeconds, retryDelayMax: queueOptions.retryDelayMax });
    // Warm pg-boss's queue cache now: an enqueue inside a caller's PGlite transaction must not need a query
    // of its own outside that transaction (PGlite is one session: it would wait for the transaction forever).
    await boss.findJobs(QUEUE_NAME, { id: '00000000-0000-0000-0000-000000000000' });
  } catch (err) {
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
    throw wrap('start', err);
  }
  return new PgBossJobQueue(boss, retryLimit, leaseSeconds);
}
