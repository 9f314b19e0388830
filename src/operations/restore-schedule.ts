/** The schedule of a parallel restore: `jobs` workers take the next ready item, biggest first (by rank). Data items
 *  are ready from the start; a post item (a table's indexes and keys, or a foreign key) becomes ready once the data
 *  of all its tables is in and the post items it comes after are built.
 *  As in pg_restore -j, a worker with no data left builds indexes instead of idling while another still loads, and
 *  an item that alters a table never runs beside another item on that table (its lock would make one of them
 *  wait, holding a worker).
 *  After a failure no new item starts and the items running are told to stop (the signal each runner gets aborts:
 *  a three-hour load beside an index that failed in the first minute would otherwise hold the error for three
 *  hours); once they have ended, the first error is thrown. No I/O of its own: the runners do the work. */
import { InternalErrorUnexpected } from '../lib/index.ts';
import type { DataItem, PostItem } from './restore-plan.ts';

export async function runRestoreItems(
  dataItems: readonly DataItem[],
  postItems: readonly PostItem[],
  jobs: number,
  run: { data: (item: DataItem, signal: AbortSignal) => Promise<void>; post: (item: PostItem, signal: AbortSignal) => Promise<void> },
  /** The restore's own cancel signal: it stops the runners too. */
  signal?: AbortSignal,
): Promise<void> {
  const stop = new AbortController();
  const cancel = (): void => stop.abort(signal?.reason);
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  const loaded = new Set<number>();
  /** Entries of post items built. */
  const built = new Set<number>();
  const waiting = [...postItems];
  const ready: ({ kind: 'data'; item: DataItem } | { kind: 'post'; item: PostItem })[] = dataItems.map((item) => ({ kind: 'data' as const, item }));
  const idle: (() => void)[] = [];
  /** Post items running, for the lock rule. */
  const running = new Set<PostItem>();
  const locks = (p: PostItem): number[] => p.locks ?? p.tables;
  const conflicts = (p: PostItem): boolean =>
    [...running].some((r) => (r.exclusive || p.exclusive) && locks(r).some((t) => locks(p).includes(t)));
  const rank = (r: (typeof ready)[number]): number => r.item.rank ?? r.item.bytes;
  let loading = 0;
  let failure: { err: unknown } | undefined;
  const release = (): void => {
    for (let i = 0; i < waiting.length; ) {
      const w = waiting[i]!;
      if (w.tables.every((t) => loaded.has(t)) && (w.after ?? []).every((d) => built.has(d))) ready.push({ kind: 'post', item: waiting.splice(i, 1)[0]! });
      else i++;
    }
    // Stable: among equals, data before indexes and the plan's order.
    ready.sort((x, y) => rank(y) - rank(x));
    for (const wake of idle.splice(0)) wake();
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      // A failure, or the restore's cancel: nothing new starts.
      if (failure || stop.signal.aborted) return;
      const at = ready.findIndex((r) => r.kind === 'data' || !conflicts(r.item));
      if (at < 0) {
        if (loading === 0 && running.size === 0) return;
        await new Promise<void>((resolve) => idle.push(resolve));
        continue;
      }
      const next = ready.splice(at, 1)[0]!;
      try {
        if (next.kind === 'data') {
          loading++;
          try {
            await run.data(next.item, stop.signal);
          } finally {
            loading--;
          }
          for (const t of next.item.tables) loaded.add(t);
        } else {
          running.add(next.item);
          try {
            await run.post(next.item, stop.signal);
            for (const id of next.item.dumpIds) built.add(id);
          } finally {
            running.delete(next.item);
          }
        }
      } catch (err) {
        if (!failure) {
          failure = { err };
          stop.abort(err);
        }
      }
      release();
    }
  };
  release();
  try {
    await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  if (failure) throw failure.err;
  if (stop.signal.aborted) throw stop.signal.reason; // cancelled between two items
  // A plan whose item waits for what no item does would otherwise end "successfully" without it.
  if (waiting.length > 0) {
    throw new InternalErrorUnexpected(`the parallel restore ended with ${waiting.length} item(s) never ready (entries ${waiting.flatMap((w) => w.dumpIds).join(', ')})`, {
      hint: 'This is a bug in pgvault: please report it with the job log. A serial restore (jobs 1) does not use this schedule.',
    });
  }
}
