/** Sealing chunks on worker threads: each new chunk is compressed (zstd-napi, level 3, kept as it is when that
 *  does not make it smaller) and encrypted (AES-256-GCM, 16-byte tag, associated data binding the blob id)
 *  into its envelope off the main thread, which then only chunks and writes packs. zstd-napi is
 *  ~20 % cheaper per byte than the thread-pool binding it replaces on this path, and the main thread no longer
 *  copies each chunk into the binding or allocates cipher output. Mirrors seal() in envelope.ts and compress()
 *  in codec.ts (vault-format.md §6, §10); the envelopes are byte-for-byte the format's. The workers hold the
 *  data key in memory only and never log. */
import { availableParallelism } from 'node:os';
import { InternalErrorUnexpected } from '../../lib/index.ts';
import { CompressionId, zstdLevel } from '../compression/codec.ts';
import { youngGcWorkerSource } from '../young-gc.ts';
import { nonceBytes, tagBytes } from './envelope.ts';
import { EvalWorkerPool, zstdNapiPath } from './worker-pool.ts';

/** Scratch buffers a seal worker keeps between chunks (2 × this at most). */
const keepScratchBytes = 3 * 1024 * 1024;

/** Plain JavaScript (eval worker): node: built-ins and zstd-napi by path. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, randomBytes } = require('node:crypto');
const { Compressor } = require(workerData.zstdPath);
${youngGcWorkerSource}
const key = Buffer.from(workerData.key);
const zc = new Compressor();
zc.setParameters({ compressionLevel: workerData.level });
// Reused buffers: zstd's output and the joined chunk. Fresh ones per chunk cost page faults and frees of
// megabytes each, more than the copies themselves. Kept only up to ${keepScratchBytes} bytes: a rare larger
// chunk gets buffers of its own, so that the workers' memory follows typical chunks, not the largest.
const none = Buffer.allocUnsafeSlow(0);
let dst = none;
let joined = none;
const take = (buf, n) => (buf.length >= n ? buf : Buffer.allocUnsafeSlow(n));
const keep = (buf) => (buf.length > ${keepScratchBytes} ? none : buf);
const bound = (n) => n + (n >>> 8) + (n < 131072 ? (131072 - n) >>> 11 : 0);
parentPort.on('message', (m) => {
  try {
    // The shared views of one chunk, in order.
    let chunk;
    if (m.parts.length === 1) {
      const p = m.parts[0];
      chunk = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    } else {
      let n = 0;
      for (const p of m.parts) n += p.byteLength;
      joined = take(joined, n);
      let at = 0;
      for (const p of m.parts) {
        joined.set(p, at);
        at += p.byteLength;
      }
      chunk = joined.subarray(0, n);
    }
    let codec = ${CompressionId.none};
    let payload = chunk;
    if (chunk.length >= 64) {
      dst = take(dst, bound(chunk.length));
      const z = zc.cctx.compress2(dst, chunk);
      if (z < chunk.length) {
        codec = ${CompressionId.zstd};
        payload = dst.subarray(0, z);
      }
    }
    // The envelope in three pieces (vault-format.md §6): nonce and encrypted codec byte, the encrypted
    // payload as the cipher allocated it (moved to the main thread, not copied again), the tag.
    const iv = randomBytes(${nonceBytes});
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: ${tagBytes} });
    c.setAAD(Buffer.from(m.aad, 'ascii'));
    const head = new Uint8Array(Buffer.concat([iv, c.update(Buffer.of(codec))])); // own, small buffers:
    let body = c.update(payload);
    const tail = new Uint8Array(Buffer.concat([c.final(), c.getAuthTag()])); // a pooled one clones 8 KiB
    if (body.byteOffset !== 0 || body.byteLength !== body.buffer.byteLength) body = Buffer.from(body);
    dst = keep(dst); // the cipher has read the payload: the scratch buffers are free again
    joined = keep(joined);
    youngGc(2 * payload.length); // the cipher's output here; on its way out, what it replaced
    parentPort.postMessage({ id: m.id, head, body, tail }, [body.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

/** Frees a sealed envelope's memory now, once its pieces have been copied (into a pack buffer), instead of
 *  whenever V8 gets to them. Each piece owns its whole buffer, made on a seal worker and moved here; it was
 *  freed only when its wrapper was collected, and a wrapper that lived through two young collections (waiting
 *  its turn to be copied) was promoted and then waited for a full collection, which V8 starts only after
 *  ~64 MiB of such external memory. Detaching moves the buffer to a new wrapper that nothing refers to; the
 *  next young collection frees it. Measured: the main thread's external memory at the peak of a 755 MB save
 *  was 15–25 MiB after this, up to 65 MiB before. A piece that does not own its whole buffer (a view into
 *  Node's shared pool) is left alone. The pieces must not be used afterwards. */
export function releaseEnvelope(pieces: readonly Uint8Array[]): void {
  for (const p of pieces) {
    const ab = p.buffer;
    if (!(ab instanceof ArrayBuffer) || p.byteOffset !== 0 || p.byteLength !== ab.byteLength || ab.byteLength === 0) continue;
    structuredClone(ab, { transfer: [ab] });
  }
}

interface Reply {
  id: number;
  head?: Uint8Array;
  body?: Uint8Array;
  tail?: Uint8Array;
  error?: string;
}

export class SealPool {
  readonly #pool: EvalWorkerPool<Reply>;

  constructor(dataKey: Uint8Array, size = Math.max(1, Math.min(4, availableParallelism()))) {
    const workerData = { key: Uint8Array.from(dataKey), zstdPath: zstdNapiPath(), level: zstdLevel };
    this.#pool = new EvalWorkerPool<Reply>(workerSource, workerData, size);
  }

  /** Compresses and encrypts a chunk into the envelope of the blob that `aad` names. The chunk is given as
   *  views over SharedArrayBuffers (the save path's slabs), in order, and read in place by the worker: nothing
   *  is copied on the calling thread. The caller keeps the bytes unchanged until this resolves. Returns the
   *  envelope in pieces (nonce and codec byte, payload, tag), uncopied. */
  async sealShared(aad: string, parts: readonly Uint8Array[]): Promise<Buffer[]> {
    for (const p of parts) {
      if (!(p.buffer instanceof SharedArrayBuffer)) throw new InternalErrorUnexpected('sealShared takes views over SharedArrayBuffers only');
    }
    return this.#envelope(await this.#pool.post({ aad, parts }));
  }

  /** The envelope's pieces in order; together they are the format's envelope. */
  #envelope(m: Reply): Buffer[] {
    if (!m.head || !m.body || !m.tail) throw new InternalErrorUnexpected(`sealing a chunk failed on a vault worker: ${m.error ?? 'unknown error'}`);
    return [m.head, m.body, m.tail].map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
