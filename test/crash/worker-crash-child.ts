/** A worker process for the crash tests: opens the PostgreSQL catalog named by PGVAULT_TEST_CATALOG_URL (in the
 *  environment, never argv), runs a 'backup' handler that works HANDLER_MS and then commits through the fenced
 *  ctx.commit() whatever its lease says, and prints one JSON line per event on stdout. Test code only. */
import { openCatalog } from '../../src/catalog/index.ts';
import { startJobQueue, Worker } from '../../src/jobs/index.ts';
import { asPgvaultError } from '../../src/lib/index.ts';

const url = process.env.PGVAULT_TEST_CATALOG_URL;
if (!url) throw new Error('PGVAULT_TEST_CATALOG_URL is not set');
const handlerMs = Number(process.env.HANDLER_MS ?? '500');
const print = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...o })}\n`);
};

const catalog = await openCatalog({ kind: 'postgres', url, poolMax: 4 });
const queue = await startJobQueue({
  connection: { kind: 'catalog', catalog },
  leaseSeconds: 10,
  retryDelaySeconds: 1,
  superviseIntervalSeconds: 1,
  supervise: process.env.SUPERVISE !== '0',
});
const worker = new Worker({ catalog, queue, pollIntervalMs: 200 });
worker.registerHandler('backup', async (ctx) => {
  print({ event: 'started', jobId: ctx.job.id, attemptId: ctx.attemptId, attempt: ctx.attempt });
  // Deliberately ignores ctx.signal: a stale attempt that keeps going must still be unable to commit.
  await new Promise((r) => setTimeout(r, handlerMs));
  try {
    await ctx.commit(async (q) => {
      await q.jobs.log(ctx.job.id, 'info', `committed by attempt ${ctx.attemptId}`);
    });
    print({ event: 'committed', jobId: ctx.job.id, attemptId: ctx.attemptId });
  } catch (err) {
    print({ event: 'commit-refused', jobId: ctx.job.id, attemptId: ctx.attemptId, code: asPgvaultError(err).code });
    throw err;
  }
  return { by: process.pid };
});
print({ event: 'ready' });

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
while (!stopping) {
  try {
    const r = await worker.runOnce();
    if (r === null) await new Promise((res) => setTimeout(res, 200));
    else print({ event: 'outcome', ...r });
  } catch (err) {
    print({ event: 'error', code: asPgvaultError(err).code });
    await new Promise((res) => setTimeout(res, 200));
  }
}
await queue.stop();
await catalog.close();
process.exit(0);
