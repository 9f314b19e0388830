import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, pageDescending } from './pagination.ts';

describe('cursor pagination', () => {
  it('round-trips cursors and refuses foreign ones with a coded error', () => {
    expect(decodeCursor(encodeCursor({ k: '2026-01-01T00:00:00.000Z', id: 'x' }))).toEqual({ k: '2026-01-01T00:00:00.000Z', id: 'x' });
    expect(decodeCursor(undefined)).toBeUndefined();
    for (const bad of ['abc', Buffer.from('{"a":1}').toString('base64url'), Buffer.from('[1,2]').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrowError(expect.objectContaining({ code: 'UserErrorInvalidInput' }));
    }
  });
  it('walking pages visits every item exactly once, newest first', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ k: fc.constantFrom('a', 'b', 'c', 'd'), id: fc.uuid() }), { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), (items, limit) => {
        const unique = [...new Map(items.map((i) => [i.id, i])).values()];
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let guard = 0; guard < 100; guard++) {
          const page = pageDescending(unique, { limit, ...(cursor ? { cursor } : {}) }, (x) => x);
          expect(page.items.length).toBeLessThanOrEqual(limit);
          seen.push(...page.items.map((i) => i.id));
          if (page.nextCursor === null) break;
          cursor = page.nextCursor;
        }
        expect(seen.sort()).toEqual(unique.map((i) => i.id).sort());
      }),
    );
  });
});
