/** Queries on jobs and their log lines. A job's visible life: queued → running → succeeded | failed |
 *  cancelled, with attempts. Fencing: start() gives the job to one attempt (attempt id, fencing token + 1);
 *  every later write names its attempt and is refused with TransientErrorJobAttemptSuperseded once another attempt
 *  took over, so a worker that lost its lease can never commit. Messages and log lines are redacted here. */
import { redact, UserErrorConflict } from '../../lib/index.ts';
import { TransientErrorJobAttemptSuperseded } from '../catalog-errors.ts';
import { newId } from '../new-id.ts';
import type { SqlExecutor } from '../sql-executor.ts';
import { validateEnum, validateText } from '../validation.ts';
import { limitOf, notFound, redactedJson, toDate, toDateOrNull, type QueryContext } from './query-context.ts';

export const jobTypes = ['backup', 'restore', 'restore-files', 'retention', 'prune', 'check', 'verify'] as const;
export type JobType = (typeof jobTypes)[number];
export const jobStates = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof jobStates)[number];
export const finalJobStates: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];
export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface JobError {
  code: string;
  message: string;
  hint?: string | null;
}

export interface JobRow {
  id: string;
  type: JobType;
  state: JobState;
  instanceId: string | null;
  vaultId: string | null;
  recoveryPointId: string | null;
  /** What the job was asked to do (never a secret: credential references at most). */
  params: Record<string, unknown>;
  progress: Record<string, unknown> | null;
  figures: Record<string, unknown> | null;
  error: JobError | null;
  attempts: number;
  attemptId: string | null;
  fencingToken: number;
  queueJobId: string | null;
  requestedBy: string;
  createdAt: Date;
  startedAt: Date | null;
  heartbeatAt: Date | null;
  finishedAt: Date | null;
}

export interface NewJob {
  type: JobType;
  instanceId?: string | null;
  vaultId?: string | null;
  recoveryPointId?: string | null;
  params?: Record<string, unknown>;
  requestedBy: string;
  queueJobId?: string | null;
}

export interface JobLogRow {
  id: number;
  jobId: string;
  attempt: number;
  at: Date;
  level: LogLevel;
  message: string;
}

export interface JobFilter {
  instanceId?: string;
  vaultId?: string;
  type?: JobType;
  state?: JobState | readonly JobState[];
  /** Only jobs created strictly before this time (paging backwards). */
  before?: Date;
  limit?: number;
}

/** get() throws UserErrorNotFound. Writes that name an attempt throw TransientErrorJobAttemptSuperseded when that
 *  attempt is no longer the job's current one, or the job already reached a final state. */
export interface JobQueries {
  create(input: NewJob): Promise<JobRow>;
  get(id: string): Promise<JobRow>;
  list(filter?: JobFilter): Promise<JobRow[]>;
  setQueueJobId(id: string, queueJobId: string): Promise<void>;
  /** True while the instance has a queued or running job (one job per instance at a time). */
  hasActive(instanceId: string, excludeJobId?: string): Promise<boolean>;
  /** Gives the job to a new attempt: running, attempts + 1, fencing token + 1. From queued or running (a
   *  takeover after a lost lease); a final job throws UserErrorConflict. */
  start(id: string, attemptId: string): Promise<JobRow>;
  /** Throws unless attemptId is the current attempt of a running job; use inside the transaction that commits. */
  assertAttempt(id: string, attemptId: string): Promise<JobRow>;
  heartbeat(id: string, attemptId: string, progress?: Record<string, unknown>): Promise<void>;
  succeed(id: string, attemptId: string, figures: Record<string, unknown>): Promise<JobRow>;
  fail(id: string, attemptId: string, error: JobError, figures?: Record<string, unknown>): Promise<JobRow>;
  /** Back to queued for a retry after a transient error; the error stays visible until the next attempt. */
  requeue(id: string, attemptId: string, error: JobError): Promise<JobRow>;
  /** Cancels a job that is not final; returns false if it already was. */
  cancel(id: string): Promise<boolean>;
  log(id: string, level: LogLevel, message: string, attempt?: number): Promise<void>;
  logs(id: string, opts?: { afterId?: number; limit?: number }): Promise<JobLogRow[]>;
}

const columns = `id, type, state, instance_id, vault_id, recovery_point_id, params, progress, figures, error_code, error_message,
  error_hint, attempts, attempt_id, fencing_token, queue_job_id, requested_by, created_at, started_at, heartbeat_at, finished_at`;

function toRow(r: Record<string, unknown>): JobRow {
  return {
    id: r.id as string,
    type: r.type as JobType,
    state: r.state as JobState,
    instanceId: (r.instance_id as string | null) ?? null,
    vaultId: (r.vault_id as string | null) ?? null,
    recoveryPointId: (r.recovery_point_id as string | null) ?? null,
    params: r.params as Record<string, unknown>,
    progress: (r.progress as Record<string, unknown> | null) ?? null,
    figures: (r.figures as Record<string, unknown> | null) ?? null,
    error: r.error_code ? { code: r.error_code as string, message: (r.error_message as string) ?? '', hint: (r.error_hint as string | null) ?? null } : null,
    attempts: Number(r.attempts),
    attemptId: (r.attempt_id as string | null) ?? null,
    fencingToken: Number(r.fencing_token),
    queueJobId: (r.queue_job_id as string | null) ?? null,
    requestedBy: r.requested_by as string,
    createdAt: toDate(r.created_at),
    startedAt: toDateOrNull(r.started_at),
    heartbeatAt: toDateOrNull(r.heartbeat_at),
    finishedAt: toDateOrNull(r.finished_at),
  };
}

function superseded(id: string, attemptId: string, cur: JobRow | undefined): TransientErrorJobAttemptSuperseded {
  const why = !cur ? 'the job does not exist'
    : cur.state !== 'running' ? `the job is ${cur.state}`
      : 'another attempt took the job over';
  return new TransientErrorJobAttemptSuperseded(`job "${id}" attempt "${attemptId}" may no longer write: ${why}`, {
    hint: 'This worker lost its claim (lease expired or job cancelled); it must stop without committing.',
    details: { jobId: id, attemptId },
  });
}

function cleanError(e: JobError): { code: string; message: string; hint: string | null } {
  return {
    code: validateText('error.code', e.code, 128),
    message: redact(String(e.message ?? '')).slice(0, 4000),
    hint: e.hint ? redact(e.hint).slice(0, 4000) : null,
  };
}

export function jobQueries(ctx: QueryContext): JobQueries {
  const get = async (id: string, exec: SqlExecutor = ctx.exec): Promise<JobRow> => {
    const rows = await exec.query(`SELECT ${columns} FROM jobs WHERE id = $1`, [id]);
    if (!rows[0]) throw notFound('job', id);
    return toRow(rows[0]);
  };
  /** An UPDATE guarded by the attempt; on no match explains why with the current row. */
  const fenced = async (id: string, attemptId: string, set: string, params: unknown[]): Promise<JobRow> => {
    const rows = await ctx.exec.query(
      `UPDATE jobs SET ${set} WHERE id = $1 AND attempt_id = $2 AND state = 'running' RETURNING ${columns}`,
      [id, attemptId, ...params] as never[]);
    if (rows[0]) return toRow(rows[0]);
    const cur = await ctx.exec.query(`SELECT ${columns} FROM jobs WHERE id = $1`, [id]);
    throw superseded(id, attemptId, cur[0] ? toRow(cur[0]) : undefined);
  };
  return {
    async create(input) {
      const type = validateEnum('type', input.type, jobTypes);
      const requestedBy = validateText('requestedBy', input.requestedBy, 200);
      const rows = await ctx.exec.query(
        `INSERT INTO jobs (id, type, state, instance_id, vault_id, recovery_point_id, params, requested_by, queue_job_id, created_at)
         VALUES ($1, $2, 'queued', $3, $4, $5, $6::jsonb, $7, $8, $9) RETURNING ${columns}`,
        [newId('job', ctx.clock), type, input.instanceId ?? null, input.vaultId ?? null, input.recoveryPointId ?? null,
          redactedJson(input.params ?? {}), requestedBy, input.queueJobId ?? null, ctx.clock.now()]);
      return toRow(rows[0]!);
    },
    get: (id) => get(id),
    async list(filter = {}) {
      const where: string[] = [];
      const params: (string | Date)[] = [];
      const add = (sql: string, v: string | Date): void => { params.push(v); where.push(sql.replace('?', `$${params.length}`)); };
      if (filter.instanceId !== undefined) add('instance_id = ?', filter.instanceId);
      if (filter.vaultId !== undefined) add('vault_id = ?', filter.vaultId);
      if (filter.type !== undefined) add('type = ?', validateEnum('type', filter.type, jobTypes));
      if (filter.before !== undefined) add('created_at < ?', filter.before);
      if (filter.state !== undefined) {
        const states = (Array.isArray(filter.state) ? filter.state : [filter.state]).map((s) => validateEnum('state', s, jobStates));
        where.push(`state IN (${states.map((s) => { params.push(s); return `$${params.length}`; }).join(', ')})`);
      }
      const rows = await ctx.exec.query(
        `SELECT ${columns} FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${limitOf(filter.limit)}`,
        params);
      return rows.map(toRow);
    },
    async setQueueJobId(id, queueJobId) {
      const rows = await ctx.exec.query('UPDATE jobs SET queue_job_id = $2 WHERE id = $1 RETURNING id', [id, queueJobId]);
      if (!rows[0]) throw notFound('job', id);
    },
    async hasActive(instanceId, excludeJobId) {
      const rows = await ctx.exec.query(
        `SELECT 1 FROM jobs WHERE instance_id = $1 AND state IN ('queued', 'running') AND id <> $2 LIMIT 1`,
        [instanceId, excludeJobId ?? '']);
      return rows.length > 0;
    },
    async start(id, attemptId) {
      validateText('attemptId', attemptId, 200);
      const now = ctx.clock.now();
      const rows = await ctx.exec.query(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, attempt_id = $2, fencing_token = fencing_token + 1,
           started_at = COALESCE(started_at, $3), heartbeat_at = $3
         WHERE id = $1 AND state IN ('queued', 'running') RETURNING ${columns}`,
        [id, attemptId, now]);
      if (rows[0]) return toRow(rows[0]);
      const cur = await get(id);
      throw new UserErrorConflict(`job "${id}" is ${cur.state} and cannot start again`, {
        hint: 'Submit a new job; a finished job is never rerun.', details: { jobId: id, state: cur.state },
      });
    },
    async assertAttempt(id, attemptId) {
      const rows = await ctx.exec.query(`SELECT ${columns} FROM jobs WHERE id = $1 FOR UPDATE`, [id]);
      const cur = rows[0] ? toRow(rows[0]) : undefined;
      if (!cur || cur.state !== 'running' || cur.attemptId !== attemptId) throw superseded(id, attemptId, cur);
      return cur;
    },
    async heartbeat(id, attemptId, progress) {
      if (progress === undefined) await fenced(id, attemptId, 'heartbeat_at = $3', [ctx.clock.now()]);
      else await fenced(id, attemptId, 'heartbeat_at = $3, progress = $4::jsonb', [ctx.clock.now(), redactedJson(progress)]);
    },
    async succeed(id, attemptId, figures) {
      return fenced(id, attemptId, `state = 'succeeded', figures = $3::jsonb, finished_at = $4, heartbeat_at = $4,
        error_code = NULL, error_message = NULL, error_hint = NULL`, [redactedJson(figures), ctx.clock.now()]);
    },
    async fail(id, attemptId, error, figures) {
      const e = cleanError(error);
      return fenced(id, attemptId, `state = 'failed', error_code = $3, error_message = $4, error_hint = $5, finished_at = $6,
        heartbeat_at = $6, figures = COALESCE($7::jsonb, figures)`,
      [e.code, e.message, e.hint, ctx.clock.now(), figures === undefined ? null : redactedJson(figures)]);
    },
    async requeue(id, attemptId, error) {
      const e = cleanError(error);
      return fenced(id, attemptId, `state = 'queued', attempt_id = NULL, error_code = $3, error_message = $4, error_hint = $5`,
        [e.code, e.message, e.hint]);
    },
    async cancel(id) {
      const rows = await ctx.exec.query(
        `UPDATE jobs SET state = 'cancelled', finished_at = $2, attempt_id = NULL
         WHERE id = $1 AND state IN ('queued', 'running') RETURNING id`, [id, ctx.clock.now()]);
      if (rows[0]) return true;
      await get(id);
      return false;
    },
    async log(id, level, message, attempt) {
      validateEnum('level', level, logLevels);
      const text = redact(String(message)).replace(/\0/g, '').slice(0, 8000);
      const rows = await ctx.exec.query(
        `INSERT INTO job_log (job_id, attempt, at, level, message)
         SELECT id, COALESCE($2, attempts), $3, $4, $5 FROM jobs WHERE id = $1 RETURNING id`,
        [id, attempt ?? null, ctx.clock.now(), level, text]);
      if (!rows[0]) throw notFound('job', id);
    },
    async logs(id, opts = {}) {
      const rows = await ctx.exec.query(
        `SELECT id, job_id, attempt, at, level, message FROM job_log WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT ${limitOf(opts.limit, 10_000)}`,
        [id, opts.afterId ?? 0]);
      return rows.map((r) => ({
        id: Number(r.id), jobId: r.job_id as string, attempt: Number(r.attempt), at: toDate(r.at), level: r.level as LogLevel, message: r.message as string,
      }));
    },
  };
}
