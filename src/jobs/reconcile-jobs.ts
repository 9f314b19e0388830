/** Reconciliation between the catalog's job rows and the queue: a job the queue has given up on (its last
 *  attempt lost its lease, e.g. a worker killed on its final retry) or no longer holds (deleted by queue
 *  retention) but that the catalog still shows queued or running is marked failed, so no job stays
 *  "running" forever. Never touches a job the queue still holds. Run periodically (the scheduler does). */
import { systemClock, UserErrorConflict, type Clock } from '../lib/index.ts';
import { TransientErrorJobAttemptSuperseded, type Catalog } from '../catalog/index.ts';
import { TransientErrorJobLeaseLost } from './jobs-errors.ts';
import type { JobQueue } from './job-queue.ts';

/** Queue states in which the queue will never hand the job out again. null: the queue no longer has it. */
const abandoned = new Set<string | null>(['failed', 'cancelled', null]);

/** Marks failed every queued or running catalog job whose queue entry is failed, cancelled or gone.
 *  Returns the ids it marked. Safe to run in several processes at once (each write is fenced). */
export async function reconcileJobs(catalog: Catalog, queue: JobQueue, clock: Clock = systemClock): Promise<string[]> {
  const marked: string[] = [];
  const open = await catalog.jobs.list({ state: ['queued', 'running'], limit: 1000 });
  for (const job of open) {
    if (job.queueJobId === null) continue;
    if (!abandoned.has(await queue.state(job.queueJobId))) continue;
    // Take the job over with an attempt of our own, so that a late write of the lost attempt stays fenced out.
    const attemptId = `att_reconcile_${clock.now().getTime()}_${job.id}`;
    try {
      await catalog.jobs.start(job.id, attemptId);
      const lost = new TransientErrorJobLeaseLost(job.id);
      await catalog.jobs.log(job.id, 'error', 'the queue gave up on this job after its last attempt lost its lease');
      await catalog.jobs.fail(job.id, attemptId, { code: lost.code, message: lost.message, hint: lost.hint ?? null });
      marked.push(job.id);
    } catch (err) {
      // Finished or taken over meanwhile by someone else: nothing left to reconcile.
      if (err instanceof UserErrorConflict || err instanceof TransientErrorJobAttemptSuperseded) continue;
      throw err;
    }
  }
  return marked;
}
