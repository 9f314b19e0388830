/** The jobs module: the pg-boss queue adapter, the worker loop with leases and fencing, the scheduler and
 *  missed-backup detection. Generic over job kinds: handlers arrive from app. */
export * from './jobs-errors.ts';
export * from './job-queue.ts';
export * from './worker.ts';
export * from './scheduler.ts';
export * from './enqueue-job.ts';
export * from './reconcile-jobs.ts';
