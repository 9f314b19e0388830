/** What the vault's eval workers (decrypt-pool.ts, seal-pool.ts) share: a small pool that sends requests
 *  round-robin and matches replies by id, keeping the process alive only while a reply is awaited, and where
 *  zstd-napi lives. */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
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

/** Eval workers running `source`; each request gets exactly one reply `{ id, ... }`. A worker that dies
 *  rejects every pending request with its error. */
export class EvalWorkerPool<Reply extends { id: number }> {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  #next = 0;
  #turn = 0;

  constructor(source: string, workerData: unknown, size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(source, { eval: true, workerData });
      w.on('message', (m: Reply) => {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        if (this.#pending.size === 0) this.#setRef(false);
        p.resolve(m);
      });
      w.on('error', (err) => {
        for (const [id, p] of this.#pending) {
          this.#pending.delete(id);
          p.reject(err);
        }
        this.#setRef(false);
      });
      this.#workers.push(w);
    }
    this.#setRef(false); // after the listeners: adding a 'message' listener refs a worker's port again
  }

  /** The workers keep the process alive only while a reply is awaited. */
  #setRef(on: boolean): void {
    for (const w of this.#workers) {
      if (on) w.ref();
      else w.unref();
    }
  }

  /** Sends `msg` (plus its id) to the next worker, moving `data` there when it owns its whole ArrayBuffer
   *  (the caller must not use it afterwards) and copying it otherwise; `transfer` moves more buffers. */
  request(msg: Record<string, unknown>, field: string, data: Uint8Array, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    const sent = own ? data : Uint8Array.from(data);
    return this.post({ ...msg, [field]: sent }, [sent.buffer as ArrayBuffer, ...transfer]);
  }

  /** Sends `msg` (plus its id) to the next worker, moving the buffers in `transfer`. Views over a
   *  SharedArrayBuffer travel without a copy and without a transfer: both threads see the same bytes. */
  post(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const id = this.#next++;
    const w = this.#workers[this.#turn++ % this.#workers.length]!;
    return new Promise<Reply>((resolve, reject) => {
      if (this.#pending.size === 0) this.#setRef(true);
      this.#pending.set(id, { resolve, reject });
      w.postMessage({ ...msg, id }, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}
