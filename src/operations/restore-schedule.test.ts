/** The parallel restore's schedule with runners that only record and wait: biggest ready item first, a table's
 *  indexes never before its data, a free worker builds indexes while another still loads, an ALTER TABLE never
 *  beside another item on its table, a failure stops it. */
import { describe, expect, it } from 'vitest';
import { InternalErrorUnexpected } from '../lib/index.ts';
import type { DataItem, PostItem } from './restore-plan.ts';
import { runRestoreItems } from './restore-schedule.ts';

const data = (table: number, bytes: number): DataItem => ({ dumpIds: [100 + table], ranges: [{ offset: table * 1000, length: bytes }], bytes, tables: [table] });
const post = (id: number, table: number, bytes: number, exclusive = false): PostItem => ({ dumpIds: [id], tables: [table], exclusive, bytes });

/** Runs the schedule with each item taking `ms[dumpId]` (default 1) of a fake clock; returns start and end times. */
async function simulate(dataItems: DataItem[], postItems: PostItem[], jobs: number, ms: Record<number, number>, failOn?: number) {
  const log: { id: number; start: number; end: number }[] = [];
  let now = 0;
  let running: { id: number; end: number; done: () => void; fail: boolean }[] = [];
  const run = (item: DataItem | PostItem): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const id = item.dumpIds[0]!;
      const entry = { id, start: now, end: now + (ms[id] ?? 1) };
      log.push(entry);
      running.push({ id, end: entry.end, fail: id === failOn, done: () => (id === failOn ? reject(new Error(`item ${id} failed`)) : resolve()) });
    });
  const done = runRestoreItems(dataItems, postItems, jobs, { data: run, post: run });
  done.catch(() => undefined); // asserted by the caller
  // Advance the clock to the next end whenever every worker is waiting on a runner.
  for (;;) {
    await new Promise((r) => setImmediate(r));
    if (running.length === 0) break;
    const next = Math.min(...running.map((r) => r.end));
    now = next;
    const ending = running.filter((r) => r.end === next);
    running = running.filter((r) => r.end !== next);
    ending.forEach((r) => r.done());
  }
  return { log, done };
}

describe('runRestoreItems', () => {
  it('keeps both workers busy: the worker done with the big table builds its indexes while the other still loads', async () => {
    // Table 1 is big (10 units to load, two indexes of 4), tables 2-4 small (4 units each, one index of 1).
    const items = [data(1, 1000), data(2, 300), data(3, 300), data(4, 300)];
    const posts = [post(11, 1, 1000), post(12, 1, 1000), post(21, 2, 300), post(31, 3, 300), post(41, 4, 300)];
    const { log, done } = await simulate(items, posts, 2, { 101: 10, 102: 4, 103: 4, 104: 4, 11: 4, 12: 4 });
    await done;
    const at = (id: number) => log.find((l) => l.id === id)!;
    // Data goes first, largest first: worker B loads 2, 3 and 4 (t 0-12) while A loads 1 (t 0-10).
    expect(at(101).start).toBe(0);
    expect(at(102).start).toBe(0);
    // Table 1's indexes outrank the small tables' indexes: A builds one from t 10, B the other from t 12, when its
    // data is done; the small indexes follow (each worker building only its own tables' indexes would end at 18).
    expect(at(11).start).toBe(10);
    expect(at(12).start).toBe(12);
    expect(Math.max(...log.map((l) => l.end))).toBe(17);
    // No index before its table's data.
    for (const p of posts) expect(at(p.dumpIds[0]!).start).toBeGreaterThanOrEqual(at(100 + p.tables[0]!).end);
    // Never more than two at once.
    for (const t of log.map((l) => l.start)) expect(log.filter((l) => l.start <= t && l.end > t).length).toBeLessThanOrEqual(2);
  });

  it('runs index builds on one table side by side, but an item that alters the table alone', async () => {
    // Table 1's primary key (exclusive, the biggest ready item) and two indexes; table 2 small, loaded later.
    const items = [data(1, 1000), data(2, 10)];
    const posts = [post(11, 1, 1000, true), post(12, 1, 1000), post(13, 1, 1000), post(21, 2, 10)];
    const { log, done } = await simulate(items, posts, 2, { 101: 2, 102: 3, 11: 3, 12: 2, 13: 2, 21: 1 });
    await done;
    const at = (id: number) => log.find((l) => l.id === id)!;
    // t 2: table 1 is in; worker A takes the key. Worker B (free at 3) skips the indexes of table 1, whose key is
    // being added, and builds table 2's; the two indexes of table 1 then run side by side after the key.
    expect(at(11)).toMatchObject({ start: 2, end: 5 });
    expect(at(21)).toMatchObject({ start: 3, end: 4 });
    expect(at(12).start).toBe(5);
    expect(at(13).start).toBe(5);
    for (const p of [12, 13]) expect(at(p).start).toBeGreaterThanOrEqual(at(11).end);
  });

  it('starts a foreign key once its tables are in and the key it references is built, beside a load, never beside an item on its tables', async () => {
    // Table 1 big; tables 2 and 3 small, with 2's primary key (21) and an index on 3 (31). The foreign key 3 -> 2
    // (90) locks both and comes after 21; the data it waits for rank with its biggest table (300).
    const items = [data(1, 1000), { ...data(2, 100), rank: 300 }, { ...data(3, 300), rank: 300 }];
    const fk: PostItem = { dumpIds: [90], tables: [3, 2], locks: [3, 2], after: [21], exclusive: true, bytes: 300 };
    const posts = [post(11, 1, 1000), { ...post(21, 2, 100, true), rank: 300 }, post(31, 3, 300), fk];
    const { log, done } = await simulate(items, posts, 2, { 101: 12, 102: 2, 103: 3, 11: 2, 21: 2, 31: 4, 90: 3 });
    await done;
    const at = (id: number) => log.find((l) => l.id === id)!;
    // Worker A loads table 1 (t 0-12). Worker B loads 2 (its rank puts it before 3: by bytes it would come last),
    // then 3, builds 21 (t 5-7), then 31 (7-11), which holds the foreign key back (both lock table 3); the foreign
    // key follows at 11, while A still loads.
    expect(log.filter((l) => l.id !== 101 && l.id !== 11).map((l) => [l.id, l.start])).toEqual([[102, 0], [103, 2], [21, 5], [31, 7], [90, 11]]);
    expect(at(90).start).toBeLessThan(at(101).end);
    expect(Math.max(...log.map((l) => l.end))).toBe(14);
  });

  it('never starts a foreign key before the key it references, even when it outranks it', async () => {
    // Tables 2 and 3 are in at t 1; the foreign key (rank 300) outranks 2's key (100), which it comes after.
    const fk: PostItem = { dumpIds: [90], tables: [2, 3], locks: [2, 3], after: [21], exclusive: true, bytes: 300 };
    const { log, done } = await simulate([data(1, 1000), data(2, 100), data(3, 100)], [post(21, 2, 100, true), fk], 2, { 101: 10, 102: 1, 103: 1, 21: 2, 90: 2 });
    await done;
    const at = (id: number) => log.find((l) => l.id === id)!;
    expect(at(90).start).toBeGreaterThanOrEqual(at(21).end);
  });

  it('fails loudly when an item can never become ready, and with the cancel reason when cancelled between items', async () => {
    const orphan: PostItem = { dumpIds: [90], tables: [1], after: [77], exclusive: true, bytes: 10 };
    const err = await runRestoreItems([data(1, 10)], [orphan], 2, { data: async () => undefined, post: async () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalErrorUnexpected);
    expect((err as Error).message).toContain('entries 90');

    const ac = new AbortController();
    const cancelled = runRestoreItems([data(1, 10), data(2, 10)], [], 1, {
      data: async () => void ac.abort(new Error('cancelled by the user')),
      post: async () => undefined,
    }, ac.signal);
    await expect(cancelled).rejects.toThrow('cancelled by the user');
  });

  it('runs everything with one worker too, and an empty plan at once', async () => {
    const { log, done } = await simulate([data(1, 10), data(2, 5)], [post(11, 1, 10)], 1, {});
    await done;
    expect(log.map((l) => l.id)).toEqual([101, 11, 102]);
    await expect(runRestoreItems([], [], 2, { data: async () => undefined, post: async () => undefined })).resolves.toBeUndefined();
  });

  it('starts nothing after a failure, lets the running item finish, and throws the first error', async () => {
    const items = [data(1, 1000), data(2, 300), data(3, 300)];
    const { log, done } = await simulate(items, [post(11, 1, 1000)], 2, { 101: 5, 102: 1 }, 102);
    await expect(done).rejects.toThrow('item 102 failed');
    expect(log.map((l) => l.id).sort()).toEqual([101, 102]);
  });

  it('tells the items still running to stop after a failure, and when the restore is cancelled', async () => {
    const signals: AbortSignal[] = [];
    // A load that would run for hours unless told to stop.
    const long = (_item: DataItem, signal: AbortSignal): Promise<void> =>
      new Promise<void>((_resolve, reject) => {
        signals.push(signal);
        signal.addEventListener('abort', () => reject(new Error('load stopped')), { once: true });
      });
    const failing = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('index failed');
    };
    const noPost = async (): Promise<void> => undefined;
    await expect(runRestoreItems([data(1, 1000), data(2, 10)], [], 2, { data: (i, s) => (i.tables[0] === 1 ? long(i, s) : failing()), post: noPost })).rejects.toThrow(
      'index failed',
    );
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toMatchObject({ message: 'index failed' });

    const ac = new AbortController();
    const running = runRestoreItems([data(1, 1000), data(2, 1000)], [], 2, { data: long, post: noPost }, ac.signal);
    await new Promise((r) => setTimeout(r, 5));
    expect(signals.slice(1).map((s) => s.aborted)).toEqual([false, false]);
    ac.abort(new Error('cancelled'));
    await expect(running).rejects.toThrow('load stopped');
    expect(signals.slice(1).map((s) => s.aborted)).toEqual([true, true]);
  });
});
