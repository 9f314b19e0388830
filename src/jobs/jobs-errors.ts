/** Error codes of the jobs module. Codes are persisted on job rows and shown to users: never rename one. */
import { InternalError, TransientError, type PgvaultErrorOptions } from '../lib/index.ts';

/** The attempt no longer holds its job: its lease expired (another process took the job over) or the job
 *  was cancelled. Whatever it was about to commit is refused; the job itself is retried or already done. */
export class TransientErrorJobLeaseLost extends TransientError {
  constructor(jobId: string, opts: PgvaultErrorOptions = {}) {
    super(`job "${jobId}": this attempt lost its lease; its result is refused`, {
      hint: 'Another attempt owns the job now; look at the job for its outcome. Frequent lease losses mean the ' +
        'worker is starved (CPU, event loop) or the lease is too short for the heartbeat interval.',
      ...opts,
      details: { jobId, ...(opts.details ?? {}) },
    });
  }
}

/** The worker was stopping (process shutdown) while an attempt ran; the job goes back to the queue and is
 *  retried, by another process or after the restart. */
export class TransientErrorWorkerStopping extends TransientError {
  constructor(jobId: string, opts: PgvaultErrorOptions = {}) {
    super(`job "${jobId}" was interrupted because its worker is stopping`, {
      hint: 'Nothing to do: the job is retried automatically.',
      ...opts,
      details: { jobId, ...(opts.details ?? {}) },
    });
  }
}

/** A job arrived whose type no handler in this process serves. */
export class InternalErrorJobHandlerMissing extends InternalError {
  constructor(type: string) {
    super(`no handler is registered for job type "${type}"`, {
      hint: 'Every serve process must register the same job handlers; upgrade or restart the process that claimed it.',
      details: { type },
    });
  }
}

/** The job queue (pg-boss, in the catalog database) could not be reached. Retried by the caller's loop. */
export class TransientErrorJobQueueUnavailable extends TransientError {
  constructor(operation: string, opts: PgvaultErrorOptions = {}) {
    super(`the job queue is unavailable (${operation})`, {
      hint: 'Check that the catalog database is reachable; pgvault keeps its queue in the "pgboss" schema there.',
      ...opts,
      details: { operation, ...(opts.details ?? {}) },
    });
  }
}
