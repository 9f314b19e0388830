/** Keyed chunk ids (HMAC-SHA-256 under idKey) and each entry's running SHA-256, computed on a worker thread so
 *  that the save path's main thread only chunks, encrypts and writes: repeat saves, where almost every chunk is
 *  already stored, are bound by hashing. Results come back in submission order with the chunk's bytes.
 *  The worker holds idKey in memory only and never logs. */
import { Worker } from 'node:worker_threads';

/** Plain JavaScript (eval worker): only node: built-ins, so no loader or bundler is involved. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, createHmac } = require('node:crypto');
const idKey = Buffer.from(workerData.idKey);
const streams = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'chunk') {
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    let sha = streams.get(m.sid);
    if (!sha) streams.set(m.sid, (sha = createHash('sha256')));
    sha.update(data);
    const id = createHmac('sha256', idKey).update(data).digest('hex');
    parentPort.postMessage({ seq: m.seq, id, data: m.data }, [m.data.buffer]);
  } else if (m.op === 'end') {
    const sha = streams.get(m.sid) ?? createHash('sha256');
    streams.delete(m.sid);
    parentPort.postMessage({ seq: m.seq, sha256: sha.digest('hex') });
  }
});
`;

export interface HashedChunk {
  id: string;
  data: Buffer;
}

export class HashPool {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (v: { id?: string; data?: Uint8Array; sha256?: string }) => void; reject: (e: unknown) => void }>();
  #seq = 0;
  #nextStream = 0;
  #failed: unknown;

  constructor(idKey: Uint8Array) {
    this.#worker = new Worker(workerSource, { eval: true, workerData: { idKey: Uint8Array.from(idKey) } });
    this.#worker.on('message', (m: { seq: number; id?: string; data?: Uint8Array; sha256?: string }) => {
      const w = this.#waiting.get(m.seq);
      this.#waiting.delete(m.seq);
      if (this.#waiting.size === 0) this.#worker.unref();
      w?.resolve(m);
    });
    this.#worker.on('error', (err) => {
      this.#failed = err;
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
      this.#worker.unref();
    });
    this.#worker.unref(); // after the listeners: adding a 'message' listener refs the port again
  }

  /** A new stream id for one entry's SHA-256. */
  openStream(): number {
    return this.#nextStream++;
  }

  #send<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<T> {
    if (this.#failed) return Promise.reject(this.#failed);
    const seq = this.#seq++;
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref(); // alive only while a reply is awaited
      this.#waiting.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ ...msg, seq }, transfer);
    });
  }

  /** Hashes one chunk of stream `sid` (in order). `chunk` must own its whole ArrayBuffer: it is moved to
   *  the worker and comes back as `data`; the caller must not touch `chunk` afterwards. */
  async hash(sid: number, chunk: Buffer): Promise<HashedChunk> {
    const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    const view = own ? chunk : Buffer.from(chunk);
    const r = await this.#send<{ id: string; data: Uint8Array }>({ op: 'chunk', sid, data: view }, [view.buffer as ArrayBuffer]);
    return { id: r.id, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength) };
  }

  /** Ends stream `sid`: the SHA-256 of everything hashed for it, hex. */
  async finish(sid: number): Promise<string> {
    return (await this.#send<{ sha256: string }>({ op: 'end', sid }, [])).sha256;
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
