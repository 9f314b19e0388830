/** Hashing a save's stream on a worker thread: the entry's SHA-256 and each chunk's keyed id (HMAC-SHA-256
 *  under the id key, vault-format.md §5) from views over the save path's SharedArrayBuffer slabs, read in
 *  place. Two SHA-256 passes cost more than the chunker's scan; off the main thread they overlap with it.
 *  Segments of one stream must follow each other in order, so every stream goes to one worker; each
 *  reply comes after all earlier segments of its stream are hashed. The worker holds the id key only in
 *  memory and never logs. */
import { InternalErrorUnexpected } from '../../lib/index.ts';
import { EvalWorkerPool } from './worker-pool.ts';

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, createHmac } = require('node:crypto');
const key = Buffer.from(workerData.key);
const streams = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.drop) {
      streams.delete(m.sid);
      parentPort.postMessage({ id: m.id, ids: [] });
      return;
    }
    let s = streams.get(m.sid);
    if (!s) {
      s = { entry: createHash('sha256'), chunk: createHmac('sha256', key) };
      streams.set(m.sid, s);
    }
    const seg = m.seg;
    s.entry.update(seg);
    const ids = [];
    let at = 0;
    for (const cut of m.cuts) {
      if (cut > at) s.chunk.update(seg.subarray(at, cut));
      ids.push(s.chunk.digest('hex'));
      s.chunk = createHmac('sha256', key);
      at = cut;
    }
    if (at < seg.length) s.chunk.update(seg.subarray(at));
    let sha256;
    if (m.end) {
      sha256 = s.entry.digest('hex');
      streams.delete(m.sid);
    }
    parentPort.postMessage({ id: m.id, ids, sha256 });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

interface Reply {
  id: number;
  ids?: string[];
  sha256?: string;
  error?: string;
}

export interface SegmentHashes {
  /** Keyed ids of the chunks that end in this segment, in order. */
  ids: string[];
  /** The stream's SHA-256, on its last segment. */
  sha256?: string;
}

export class HashPool {
  readonly #pool: EvalWorkerPool<Reply>;
  #nextStream = 0;

  constructor(idKey: Uint8Array) {
    this.#pool = new EvalWorkerPool<Reply>(workerSource, { key: Uint8Array.from(idKey) }, 1);
  }

  /** A new stream's handle. */
  stream(): HashStream {
    return new HashStream(this.#pool, this.#nextStream++);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

export class HashStream {
  readonly #pool: EvalWorkerPool<Reply>;
  readonly #sid: number;

  constructor(pool: EvalWorkerPool<Reply>, sid: number) {
    this.#pool = pool;
    this.#sid = sid;
  }

  /** Hashes the next segment of the stream (a view over a SharedArrayBuffer, left unchanged until this
   *  resolves); `cuts` are the offsets in it where chunks end, ascending. `end` marks the last segment. */
  async segment(seg: Uint8Array, cuts: number[], end = false): Promise<SegmentHashes> {
    if (!(seg.buffer instanceof SharedArrayBuffer)) throw new InternalErrorUnexpected('hash segments must be views over SharedArrayBuffers');
    const m = await this.#pool.post({ sid: this.#sid, seg, cuts, end });
    if (!m.ids) throw new InternalErrorUnexpected(`hashing a stream failed on a vault worker: ${m.error ?? 'unknown error'}`);
    if (end && m.sha256 === undefined) throw new InternalErrorUnexpected('the hash worker did not finish the stream');
    return { ids: m.ids, sha256: m.sha256 };
  }

  /** Forgets the stream's state on the worker (an entry that failed). */
  async drop(): Promise<void> {
    await this.#pool.post({ sid: this.#sid, drop: true });
  }
}
