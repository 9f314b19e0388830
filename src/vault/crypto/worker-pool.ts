/** What the vault's eval workers (decrypt-pool.ts, seal-pool.ts) share: where zstd-napi lives, and keeping
 *  the process alive only while a worker's reply is awaited. */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { InternalErrorUnexpected } from '../../lib/index.ts';

/** zstd-napi's entry file, for the eval workers: from this module, else from the entry script or the working
 *  directory (a bundle of this module lives elsewhere and keeps zstd-napi external). */
export function zstdNapiPath(): string {
  const bases = [import.meta.url, process.argv[1], join(process.cwd(), 'noop.js')];
  for (const base of bases) {
    if (!base) continue;
    try {
      return createRequire(base).resolve('zstd-napi');
    } catch {
      // try the next base
    }
  }
  throw new InternalErrorUnexpected('zstd-napi cannot be found for the vault workers', { hint: 'Reinstall pgvault (npm ci): the zstd-napi package is missing.' });
}

/** Workers keep the process alive only while a reply is awaited (call after adding listeners: adding a
 *  'message' listener refs a worker's port again). */
export function setWorkersRef(workers: readonly Worker[], on: boolean): void {
  for (const w of workers) {
    if (on) w.ref();
    else w.unref();
  }
}
