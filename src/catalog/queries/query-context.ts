/** What every query file receives: the executor (possibly bound to a transaction) and the clock that stamps
 *  created/updated times. Plus the few conversions all of them share. Holds no SQL of its own. */
import { redact, UserErrorNotFound, type Clock } from '../../lib/index.ts';
import type { SqlExecutor } from '../sql-executor.ts';

export interface QueryContext {
  readonly exec: SqlExecutor;
  readonly clock: Clock;
}

export function notFound(kind: string, key: string): UserErrorNotFound {
  return new UserErrorNotFound(`${kind} "${key}" does not exist`, {
    hint: `List the existing ${kind}s to find the right name or id.`,
    details: { kind, key },
  });
}

export function json(value: unknown): string {
  return JSON.stringify(value);
}

export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string);
}

export function toDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value);
}

/** Bounded page sizes for list queries. */
export function limitOf(limit: number | undefined, max = 1000): number {
  if (limit === undefined) return max;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}

/** JSON for a jsonb column with every string (keys included) passed through redact(): a stray secret never lands in the catalog. */
export function redactedJson(value: unknown): string {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [redact(k), walk(x)]));
    }
    return v;
  };
  return JSON.stringify(walk(value));
}
