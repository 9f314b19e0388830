/** Sealing chunks on worker threads: each new chunk is compressed (zstd-napi, level 3, kept as it is when that
 *  does not make it smaller) and encrypted (AES-256-GCM, 16-byte tag, associated data binding the blob id)
 *  into its envelope off the main thread, which then only chunks, hashes and writes packs. zstd-napi is
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

/** Plain JavaScript (eval worker): node: built-ins and zstd-napi by path. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, randomBytes } = require('node:crypto');
const { Compressor } = require(workerData.zstdPath);
${youngGcWorkerSource}
const key = Buffer.from(workerData.key);
const zc = new Compressor();
zc.setParameters({ compressionLevel: workerData.level });
parentPort.on('message', (m) => {
  try {
    const chunk = Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
    let codec = ${CompressionId.none};
    let payload = chunk;
    if (chunk.length >= 64) {
      const z = zc.compress(chunk);
      if (z.length < chunk.length) {
        codec = ${CompressionId.zstd};
        payload = z;
      }
    }
    const iv = randomBytes(${nonceBytes});
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: ${tagBytes} });
    c.setAAD(Buffer.from(m.aad, 'ascii'));
    const env = Buffer.allocUnsafeSlow(${nonceBytes} + 1 + payload.length + ${tagBytes});
    iv.copy(env, 0);
    let at = ${nonceBytes};
    for (const part of [c.update(Buffer.of(codec)), c.update(payload), c.final(), c.getAuthTag()]) {
      part.copy(env, at);
      at += part.length;
    }
    youngGc(2 * chunk.length + 2 * payload.length); // the chunk, zstd's output bound, cipher output; env moves on
    parentPort.postMessage({ id: m.id, env }, [env.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

interface Reply {
  id: number;
  env?: Uint8Array;
  error?: string;
}

export class SealPool {
  readonly #pool: EvalWorkerPool<Reply>;

  constructor(dataKey: Uint8Array, size = Math.max(1, Math.min(4, availableParallelism()))) {
    const workerData = { key: Uint8Array.from(dataKey), zstdPath: zstdNapiPath(), level: zstdLevel };
    this.#pool = new EvalWorkerPool<Reply>(workerSource, workerData, size);
  }

  /** Compresses and encrypts `chunk` into the envelope of the blob that `aad` names. `chunk` is moved to a
   *  worker when it owns its whole ArrayBuffer (the caller must not use it afterwards), copied otherwise. */
  async seal(aad: string, chunk: Buffer): Promise<Buffer> {
    const m = await this.#pool.request({ aad }, 'chunk', chunk);
    if (!m.env) throw new InternalErrorUnexpected(`sealing a chunk failed on a vault worker: ${m.error ?? 'unknown error'}`);
    return Buffer.from(m.env.buffer, m.env.byteOffset, m.env.byteLength);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
