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

/** Compressed bytes gather in a buffer of this size on each seal worker and are encrypted from there, so the
 *  envelope's payload comes out in pieces of at most this size. */
const pieceBytes = 256 * 1024;

/** Plain JavaScript (eval worker): node: built-ins and zstd-napi by path. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, randomBytes } = require('node:crypto');
const { Compressor } = require(workerData.zstdPath);
${youngGcWorkerSource}
const key = Buffer.from(workerData.key);
const zc = new Compressor();
zc.setParameters({ compressionLevel: workerData.level });
const ZSTD_e_continue = 0;
const ZSTD_e_end = 2;
const ZSTD_reset_session_only = 1;
// zstd streams over the chunk's parts as they lie in the slabs, into this buffer; each time it fills, it is
// encrypted into one piece of the envelope. Nothing on the worker grows with the chunk: a whole-chunk output
// buffer and a joined copy of a chunk that crosses slabs, sized to the largest chunk seen, were what made the
// workers' malloc arenas jump by 10-20 MiB each after a few chunks of 3-8 MiB.
const out = Buffer.allocUnsafeSlow(${pieceBytes});
const own = (b) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : Buffer.from(b));
function cipherFor(aad, codec) {
  const iv = randomBytes(${nonceBytes});
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: ${tagBytes} });
  c.setAAD(Buffer.from(aad, 'ascii'));
  const head = new Uint8Array(Buffer.concat([iv, c.update(Buffer.of(codec))])); // own, small buffers: a
  return { c, head }; // pooled one would clone 8 KiB when moved
}
function finish(c) {
  return new Uint8Array(Buffer.concat([c.final(), c.getAuthTag()]));
}
/** The envelope with the codec byte none: the chunk itself, encrypted in pieces. */
function sealPlain(aad, srcs) {
  const { c, head } = cipherFor(aad, ${CompressionId.none});
  const body = [];
  for (const src of srcs) {
    for (let at = 0; at < src.length; at += ${pieceBytes}) body.push(own(c.update(src.subarray(at, at + ${pieceBytes}))));
  }
  return { head, body, tail: finish(c) };
}
/** The envelope with the codec byte zstd, or undefined as soon as the compressed bytes reach the chunk's
 *  length (it is then stored as it is). The codec byte comes first in the plaintext, so it is encrypted
 *  before the outcome is known. */
function sealZstd(aad, srcs, total) {
  const { c, head } = cipherFor(aad, ${CompressionId.zstd});
  const body = [];
  const cctx = zc.cctx;
  cctx.reset(ZSTD_reset_session_only);
  cctx.setPledgedSrcSize(total);
  let fill = 0;
  let produced = 0;
  for (let i = 0; i < srcs.length; i++) {
    const op = i === srcs.length - 1 ? ZSTD_e_end : ZSTD_e_continue;
    let src = srcs[i];
    for (;;) {
      const [left, wrote, read] = cctx.compressStream2(out.subarray(fill), src, op);
      fill += wrote;
      produced += wrote;
      src = src.subarray(read);
      if (produced >= total) {
        cctx.reset(ZSTD_reset_session_only);
        return undefined;
      }
      if (fill === out.length) {
        body.push(own(c.update(out)));
        fill = 0;
      }
      if (op === ZSTD_e_end ? left === 0 : src.length === 0) break;
    }
  }
  if (fill > 0) body.push(own(c.update(out.subarray(0, fill))));
  return { head, body, tail: finish(c), produced };
}
parentPort.on('message', (m) => {
  try {
    // The shared views of one chunk, in order, read in place.
    const srcs = m.parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    let total = 0;
    for (const s of srcs) total += s.length;
    const env = (total >= 64 && sealZstd(m.aad, srcs, total)) || sealPlain(m.aad, srcs);
    youngGc(2 * (env.produced ?? total)); // the cipher's output here; on its way out, what it replaced
    parentPort.postMessage({ id: m.id, head: env.head, body: env.body, tail: env.tail }, env.body.map((b) => b.buffer));
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
  body?: Uint8Array[];
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
   *  envelope in pieces (nonce and codec byte, the payload in pieces of at most 256 KiB, tag), uncopied. */
  async sealShared(aad: string, parts: readonly Uint8Array[]): Promise<Buffer[]> {
    for (const p of parts) {
      if (!(p.buffer instanceof SharedArrayBuffer)) throw new InternalErrorUnexpected('sealShared takes views over SharedArrayBuffers only');
    }
    return this.#envelope(await this.#pool.post({ aad, parts }));
  }

  /** The envelope's pieces in order; together they are the format's envelope. */
  #envelope(m: Reply): Buffer[] {
    if (!m.head || !m.body || !m.tail) throw new InternalErrorUnexpected(`sealing a chunk failed on a vault worker: ${m.error ?? 'unknown error'}`);
    return [m.head, ...m.body, m.tail].map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
