/** Follows nextCursor through every page of a list route, for commands that show whole lists. */
import type { PageOf } from '../api/contract/index.ts';

export async function allPages<T>(fetchPage: (cursor: string | undefined) => Promise<PageOf<T>>, maxItems = 100_000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && items.length < maxItems);
  return items;
}
