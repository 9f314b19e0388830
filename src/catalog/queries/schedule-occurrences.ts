/** Queries on schedule occurrences: the scheduler's idempotency key. claim() inserts (instance, scheduledFor)
 *  and reports whether this caller won; UNIQUE (instance_id, scheduled_for) makes that true for exactly one
 *  caller across all processes sharing the catalog. Never decides what is due: src/jobs does. */
import { toDate, toDateOrNull, type QueryContext } from './query-context.ts';

export interface ScheduleOccurrenceRow {
  instanceId: string;
  scheduledFor: Date;
  jobId: string | null;
  createdAt: Date;
}

export interface ScheduleOccurrenceQueries {
  /** True for the one caller that recorded the occurrence first; false if it was already claimed. */
  claim(instanceId: string, scheduledFor: Date, jobId?: string | null): Promise<boolean>;
  /** Links the job enqueued for a claimed occurrence. */
  attachJob(instanceId: string, scheduledFor: Date, jobId: string): Promise<void>;
  /** The newest claimed occurrence of an instance, or null. */
  latest(instanceId: string): Promise<Date | null>;
  list(instanceId: string, opts?: { since?: Date; limit?: number }): Promise<ScheduleOccurrenceRow[]>;
}

export function scheduleOccurrenceQueries(ctx: QueryContext): ScheduleOccurrenceQueries {
  return {
    async claim(instanceId, scheduledFor, jobId) {
      const rows = await ctx.exec.query(
        `INSERT INTO schedule_occurrences (instance_id, scheduled_for, job_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (instance_id, scheduled_for) DO NOTHING RETURNING instance_id`,
        [instanceId, scheduledFor, jobId ?? null, ctx.clock.now()]);
      return rows.length === 1;
    },
    async attachJob(instanceId, scheduledFor, jobId) {
      await ctx.exec.query('UPDATE schedule_occurrences SET job_id = $3 WHERE instance_id = $1 AND scheduled_for = $2', [instanceId, scheduledFor, jobId]);
    },
    async latest(instanceId) {
      const rows = await ctx.exec.query('SELECT max(scheduled_for) AS at FROM schedule_occurrences WHERE instance_id = $1', [instanceId]);
      return toDateOrNull(rows[0]?.at);
    },
    async list(instanceId, opts = {}) {
      const rows = await ctx.exec.query(
        `SELECT instance_id, scheduled_for, job_id, created_at FROM schedule_occurrences
         WHERE instance_id = $1 AND scheduled_for >= $2 ORDER BY scheduled_for LIMIT ${Math.max(1, Math.min(100_000, opts.limit ?? 100_000))}`,
        [instanceId, opts.since ?? new Date(0)]);
      return rows.map((r) => ({ instanceId: r.instance_id as string, scheduledFor: toDate(r.scheduled_for), jobId: (r.job_id as string | null) ?? null, createdAt: toDate(r.created_at) }));
    },
  };
}
