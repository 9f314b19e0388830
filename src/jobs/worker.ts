/** The worker loop: claims jobs from the queue, gives each claim a fresh attempt in the catalog (attempt id,
 *  fencing token + 1), runs the handler registered for the job's type while heartbeating the lease, and
 *  mirrors the outcome into the catalog's job row (state, progress, figures, error code/message/hint,
 *  attempts, log lines). Every catalog write of an attempt is fenced by its attempt id, so an attempt that
 *  lost its lease can never commit. Retries (with backoff) only transient errors. Holds no SQL of its own. */
import { randomUUID } from 'node:crypto';
import {
  asPgvaultError,
  isTransient,
  PgvaultError,
  systemClock,
  UserErrorConflict,
  UserErrorNotFound,
  type Clock,
} from '../lib/index.ts';
import {
  bindQueries,
  TransientErrorJobAttemptSuperseded,
  type AttemptFence,
  type Catalog,
  type CatalogQueries,
  type JobRow,
  type LogLevel,
  type SqlExecutor,
} from '../catalog/index.ts';
import { InternalErrorJobHandlerMissing, TransientErrorJobLeaseLost, TransientErrorWorkerStopping } from './jobs-errors.ts';
import type { JobQueue, QueueClaim } from './job-queue.ts';

/** What a handler gets for one attempt. */
export interface JobContext {
  /** The job row as this attempt started it (state running, attempts counted). */
  readonly job: JobRow;
  readonly attemptId: string;
  /** 1 for the first attempt; more after transient failures or a takeover after a lost lease. */
  readonly attempt: number;
  /** Pass to fenced catalog writes (recoveryPoints.insert) so they commit only while this attempt owns the job. */
  readonly fence: AttemptFence;
  /** Aborted when this attempt lost its lease or the worker is stopping; the reason says which. */
  readonly signal: AbortSignal;
  /** Appends a line to the job's log (redacted by the catalog). */
  log(level: LogLevel, message: string): Promise<void>;
  /** Records progress (and heartbeats the catalog row); throws TransientErrorJobAttemptSuperseded after a takeover. */
  progress(progress: Record<string, unknown>): Promise<void>;
  /** Runs fn in one catalog transaction that first checks (and locks) this attempt's ownership of the job:
   *  the writes of fn commit only if the attempt still owns the job. */
  commit<T>(fn: (q: CatalogQueries, tx: SqlExecutor) => Promise<T>): Promise<T>;
}

/** A job kind's behaviour. Resolves with the job's figures (bytes, durations …) on success; throws a
 *  PgvaultError on failure: transient errors are retried with backoff, everything else fails the job. */
export type JobHandler = (ctx: JobContext) => Promise<Record<string, unknown>>;

export interface WorkerOptions {
  catalog: Catalog;
  queue: JobQueue;
  /** Stamps catalog rows; leases run on the database's clock (pg-boss). */
  clock?: Clock;
  /** Heartbeat period; default a third of each claim's lease, so two beats may fail before it lapses. */
  heartbeatIntervalMs?: number;
  /** Idle poll period when the queue was empty. Default 1 s. */
  pollIntervalMs?: number;
  /** Called for errors the loop survives (a catalog or queue outage between jobs). Never receives secrets. */
  onError?: (err: PgvaultError) => void;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'retrying' | 'lease-lost' | 'dropped';

/** Runs registered handlers for claimed jobs, one at a time per Worker (start several for parallelism). */
export class Worker {
  readonly #catalog: Catalog;
  readonly #queue: JobQueue;
  readonly #clock: Clock;
  readonly #heartbeatMs: number | undefined;
  readonly #pollMs: number;
  readonly #onError: (err: PgvaultError) => void;
  readonly #handlers = new Map<string, JobHandler>();
  #loop: Promise<void> | undefined;
  #stopping = new AbortController();
  #wake: (() => void) | undefined;

  constructor(opts: WorkerOptions) {
    this.#catalog = opts.catalog;
    this.#queue = opts.queue;
    this.#clock = opts.clock ?? systemClock;
    this.#heartbeatMs = opts.heartbeatIntervalMs;
    this.#pollMs = opts.pollIntervalMs ?? 1000;
    this.#onError = opts.onError ?? reportToStderr;
  }

  /** Registers the handler of a job type; a second registration for a type replaces the first. */
  registerHandler(type: string, handler: JobHandler): void {
    this.#handlers.set(type, handler);
  }

  /** Starts the claim loop; idempotent. */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#stopping = new AbortController();
    this.#loop = this.#run();
  }

  /** Stops claiming and aborts a running attempt's signal; waits until the handler returns. An attempt that
   *  ends because of the stop is not failed: its job goes back to the queue (TransientErrorWorkerStopping). */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error('worker stopping'));
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  async #run(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      let worked = false;
      try {
        worked = (await this.runOnce()) !== null;
      } catch (err) {
        this.#onError(asPgvaultError(err));
      }
      if (!worked && !this.#stopping.signal.aborted) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.#pollMs);
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  /** Claims and runs at most one job; null when the queue had nothing ready. */
  async runOnce(): Promise<{ jobId: string; outcome: AttemptOutcome } | null> {
    const claim = await this.#queue.claim();
    if (claim === null) return null;
    return { jobId: claim.payload.jobId, outcome: await this.#attempt(claim) };
  }

  async #attempt(claim: QueueClaim): Promise<AttemptOutcome> {
    const jobs = this.#catalog.jobs;
    const jobId = claim.payload.jobId;
    const attemptId = `att_${randomUUID()}`;
    let job: JobRow;
    try {
      job = await jobs.start(jobId, attemptId);
    } catch (err) {
      if (err instanceof UserErrorConflict || err instanceof UserErrorNotFound) {
        // Finished or cancelled in the catalog (or never committed there): the queue's copy is stale.
        await this.#queue.complete(claim);
        return 'dropped';
      }
      throw err;
    }
    await jobs.log(jobId, 'info', `attempt ${job.attempts} (${attemptId}) started`, job.attempts);

    const lease = new AbortController();
    const onStop = (): void => lease.abort(this.#stopping.signal.reason);
    this.#stopping.signal.addEventListener('abort', onStop, { once: true });
    const fence: AttemptFence = { jobId, attemptId };
    const heartbeat = setInterval(() => {
      void this.#beat(claim, fence, lease);
    }, this.#heartbeatMs ?? (claim.leaseSeconds * 1000) / 3);
    const ctx: JobContext = {
      job,
      attemptId,
      attempt: job.attempts,
      fence,
      signal: lease.signal,
      log: (level, message) => jobs.log(jobId, level, message, job.attempts),
      progress: (p) => jobs.heartbeat(jobId, attemptId, p),
      commit: (fn) =>
        this.#catalog.executor.transaction(async (tx) => {
          const q = this.#bind(tx);
          await q.jobs.assertAttempt(jobId, attemptId);
          return fn(q, tx);
        }),
    };

    try {
      const handler = this.#handlers.get(claim.payload.type);
      if (handler === undefined) throw new InternalErrorJobHandlerMissing(claim.payload.type);
      const figures = await handler(ctx);
      // A lost lease voids even a successful run (another attempt may be redoing it); a stop does not.
      if (lease.signal.reason instanceof TransientErrorJobLeaseLost) throw lease.signal.reason;
      await jobs.succeed(jobId, attemptId, figures);
      await this.#queue.complete(claim);
      return 'succeeded';
    } catch (thrown) {
      const err = this.#stopping.signal.aborted && !(thrown instanceof TransientErrorJobAttemptSuperseded)
        ? new TransientErrorWorkerStopping(jobId, { cause: thrown })
        : asPgvaultError(thrown);
      if (err instanceof TransientErrorJobAttemptSuperseded || err instanceof TransientErrorJobLeaseLost) {
        // Another attempt owns the job (or it was cancelled): this attempt must not write anything more.
        return 'lease-lost';
      }
      const error = { code: err.code, message: err.message, hint: err.hint ?? null };
      const retry = isTransient(err) && claim.retryCount < claim.retryLimit;
      try {
        if (retry) {
          await jobs.log(jobId, 'warn', `attempt ${job.attempts} failed with ${err.code}; retrying with backoff`, job.attempts);
          await jobs.requeue(jobId, attemptId, error);
        } else {
          await jobs.log(jobId, 'error', `attempt ${job.attempts} failed with ${err.code}: ${err.message}`, job.attempts);
          await jobs.fail(jobId, attemptId, error);
        }
      } catch (recordErr) {
        if (recordErr instanceof TransientErrorJobAttemptSuperseded) return 'lease-lost';
        throw recordErr;
      }
      const outcome = await this.#queue.fail(claim, error, { retry });
      return outcome === 'lease-lost' ? 'lease-lost' : outcome;
    } finally {
      clearInterval(heartbeat);
      this.#stopping.signal.removeEventListener('abort', onStop);
    }
  }

  /** One heartbeat: the queue's lease first, then the catalog row. Losing either aborts the attempt. */
  async #beat(claim: QueueClaim, fence: AttemptFence, lease: AbortController): Promise<void> {
    if (lease.signal.aborted) return;
    try {
      const held = await this.#queue.heartbeat(claim);
      if (!held) {
        lease.abort(new TransientErrorJobLeaseLost(fence.jobId));
        return;
      }
      await this.#catalog.jobs.heartbeat(fence.jobId, fence.attemptId);
    } catch (err) {
      if (err instanceof TransientErrorJobAttemptSuperseded) lease.abort(new TransientErrorJobLeaseLost(fence.jobId, { cause: err }));
      // A passing outage: the next beat tries again; the lease is long enough for a few misses.
      else this.#onError(asPgvaultError(err));
    }
  }

  #bind(tx: SqlExecutor): CatalogQueries {
    return bindQueries(tx, this.#clock);
  }
}

/** Without an onError from the composition root, survivable errors still surface (redacted, with their code). */
function reportToStderr(err: PgvaultError): void {
  console.error(`pgvault worker: ${err.code}: ${err.message}`);
}
