/** The audit log: one append-only line per mutating call (who, what, on which resource, outcome). Details are
 *  redacted before they are stored; nothing here updates or deletes a line. */
import { validateEnum, validateText } from '../validation.ts';
import { limitOf, redactedJson, toDate, type QueryContext } from './query-context.ts';

export const auditOutcomes = ['succeeded', 'failed', 'denied'] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

export interface AuditEntry {
  actor: string;
  action: string;
  resourceType: string;
  resourceId?: string | null;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
}

export interface AuditLogRow extends Required<Omit<AuditEntry, 'resourceId'>> {
  id: number;
  at: Date;
  resourceId: string | null;
}

export interface AuditLogQueries {
  append(entry: AuditEntry): Promise<void>;
  /** Newest first; `beforeId` pages backwards. */
  list(opts?: { limit?: number; beforeId?: number }): Promise<AuditLogRow[]>;
}

export function auditLogQueries(ctx: QueryContext): AuditLogQueries {
  return {
    async append(entry) {
      await ctx.exec.query(
        `INSERT INTO audit_log (at, actor, action, resource_type, resource_id, outcome, details) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
        [ctx.clock.now(), validateText('actor', entry.actor, 200), validateText('action', entry.action, 200),
          validateText('resourceType', entry.resourceType, 100), entry.resourceId ?? null,
          validateEnum('outcome', entry.outcome, auditOutcomes), redactedJson(entry.details ?? {})]);
    },
    async list(opts = {}) {
      const rows = await ctx.exec.query(
        `SELECT id, at, actor, action, resource_type, resource_id, outcome, details FROM audit_log
         WHERE id < $1 ORDER BY id DESC LIMIT ${limitOf(opts.limit)}`, [opts.beforeId ?? Number.MAX_SAFE_INTEGER]);
      return rows.map((r) => ({
        id: Number(r.id), at: toDate(r.at), actor: r.actor as string, action: r.action as string, resourceType: r.resource_type as string,
        resourceId: (r.resource_id as string | null) ?? null, outcome: r.outcome as AuditOutcome, details: r.details as Record<string, unknown>,
      }));
    },
  };
}
