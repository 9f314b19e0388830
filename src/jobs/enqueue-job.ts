/** Submitting a job: the catalog row and the queue entry are written in one catalog transaction, so a job is
 *  either visible and queued or does not exist. Used for on-demand work (backup now, restore, prune …); the
 *  scheduler does the same for due occurrences. Never puts parameters into the queue (only ids). */
import { systemClock, UserErrorInvalidInput, type Clock } from '../lib/index.ts';
import { bindQueries, type Catalog, type JobRow, type NewJob, type SqlExecutor } from '../catalog/index.ts';
import type { JobQueue } from './job-queue.ts';

export interface EnqueueJobInput extends NewJob {
  /** At most one job per key is active; defaults to the instance id, else the vault id, else the job's own id. */
  exclusiveKey?: string;
  /** Run not before this instant. */
  startAfter?: Date;
}

/** Creates the job row (state queued) and enqueues it, atomically. Returns the row with its queue job id. */
export function enqueueJob(catalog: Catalog, queue: JobQueue, input: EnqueueJobInput, clock: Clock = systemClock): Promise<JobRow> {
  return catalog.executor.transaction((tx) => enqueueJobIn(tx, queue, input, clock));
}

/** The same inside a caller's catalog transaction `tx` (the scheduler adds its occurrence row to it). */
export async function enqueueJobIn(tx: SqlExecutor, queue: JobQueue, input: EnqueueJobInput, clock: Clock = systemClock): Promise<JobRow> {
  if (input.exclusiveKey !== undefined && input.exclusiveKey.trim() === '') {
    throw new UserErrorInvalidInput('exclusiveKey: must not be empty', { hint: 'Omit it to serialise jobs per backup instance.' });
  }
  const { exclusiveKey, startAfter, ...newJob } = input;
  const q = bindQueries(tx, clock);
  const job = await q.jobs.create(newJob);
  const queueJobId = await queue.enqueue(
    { jobId: job.id, type: job.type },
    {
      exclusiveKey: exclusiveKey ?? job.instanceId ?? job.vaultId ?? job.id,
      ...(startAfter === undefined ? {} : { startAfter }),
      tx: { query: (sql, params) => tx.query(sql, (params ?? []) as never[]) },
    },
  );
  await q.jobs.setQueueJobId(job.id, queueJobId);
  return { ...job, queueJobId };
}
