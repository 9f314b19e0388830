/** Cursor pagination for list routes: an opaque cursor (base64url JSON of the last item's sort key) and a
 *  limit. Clients must treat cursors as opaque; a tampered or foreign cursor is a coded 400, never a crash. */
import { UserErrorInvalidInput } from '../lib/index.ts';
import type { PageOf } from './contract/index.ts';

export const defaultLimit = 50;
export const maxLimit = 500;

/** The position after which the next page starts: the sort key of the last item seen. */
export interface CursorKey {
  /** Sort timestamp or value, compared first. */
  k: string;
  /** Unique id, the tie-breaker. */
  id: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.k, key.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): CursorKey | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
      return { k: v[0], id: v[1] };
    }
  } catch {
    // fall through to the coded error
  }
  throw new UserErrorInvalidInput('query field "cursor" is not a cursor this server issued', {
    hint: 'Pass back the nextCursor of the previous page unchanged, or omit cursor to start from the first page.',
    details: { field: 'cursor' },
  });
}

/**
 * Builds a page from a fetch of up to limit+1 items (sorted by the same key the cursor uses): the extra
 * item only tells that another page exists and is not returned.
 */
export function pageOf<T>(fetched: T[], limit: number, keyOf: (item: T) => CursorKey): PageOf<T> {
  if (fetched.length <= limit) return { items: fetched, nextCursor: null };
  const items = fetched.slice(0, limit);
  return { items, nextCursor: encodeCursor(keyOf(items[items.length - 1] as T)) };
}

/**
 * Pages an in-memory list sorted descending by (k, id) — for stores that return whole small lists.
 */
export function pageDescending<T>(all: T[], query: { limit?: number; cursor?: string }, keyOf: (item: T) => CursorKey): PageOf<T> {
  const limit = Math.min(query.limit ?? defaultLimit, maxLimit);
  const after = decodeCursor(query.cursor);
  const sorted = [...all].sort((a, b) => compareKeys(keyOf(b), keyOf(a)));
  const rest = after === undefined ? sorted : sorted.filter((x) => compareKeys(keyOf(x), after) < 0);
  return pageOf(rest.slice(0, limit + 1), limit, keyOf);
}

function compareKeys(a: CursorKey, b: CursorKey): number {
  if (a.k !== b.k) return a.k < b.k ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}
