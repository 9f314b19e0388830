/** Opening blob envelopes on worker threads, so that a load uses every core: the main thread only fetches,
 *  hashes the entry and writes, while workers authenticate and decrypt (AES-256-GCM), decompress (zstd) into a
 *  buffer of the recorded length and, when asked, check the keyed id. The workers hold the data and id keys in
 *  memory only; they never log, and every failure comes back as the coded integrity error the main thread
 *  would have raised. Mirrors open() in envelope.ts and decompress() in codec.ts (vault-format.md §6, §10). */
import { availableParallelism } from 'node:os';
import { youngGcWorkerSource } from '../young-gc.ts';
import { EvalWorkerPool, zstdNapiPath } from './worker-pool.ts';
import { IntegrityErrorAuthenticationFailed, IntegrityErrorChunkHashMismatch, IntegrityErrorMalformedObject } from '../errors.ts';

/** Plain JavaScript (eval worker): no loader or bundler is involved, only node: built-ins and zstd-napi by path. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createDecipheriv, createHmac } = require('node:crypto');
const { Decompressor } = require(workerData.zstdPath);
const key = Buffer.from(workerData.key);
const idKey = Buffer.from(workerData.idKey);
const dec = new Decompressor();
${youngGcWorkerSource}
function reply(id, plain, into) {
  const own = plain.buffer === into || (plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength);
  parentPort.postMessage({ id, ok: true, plain }, own ? [plain.buffer] : []);
}
parentPort.on('message', (m) => {
  youngGc(m.env.byteLength + (m.into ? 0 : m.rawLength || 0));
  const env = Buffer.from(m.env.buffer, m.env.byteOffset, m.env.byteLength);
  let plain;
  try {
    if (env.length < 29) throw new Error('short');
    const d = createDecipheriv('aes-256-gcm', key, env.subarray(0, 12), { authTagLength: 16 });
    d.setAAD(Buffer.from(m.aad, 'ascii'));
    d.setAuthTag(env.subarray(env.length - 16));
    const body = d.update(env.subarray(12, env.length - 16));
    const last = d.final();
    plain = last.length === 0 ? body : Buffer.concat([body, last]);
  } catch {
    parentPort.postMessage({ id: m.id, ok: false, kind: 'auth' });
    return;
  }
  let chunk;
  try {
    const codec = plain[0];
    const payload = plain.subarray(1);
    // The caller's spare buffer (m.into, moved here) takes the chunk when it is large enough: no allocation.
    const into = m.into && m.into.byteLength >= m.rawLength ? Buffer.from(m.into, 0, m.rawLength) : undefined;
    if (codec === 0) chunk = into && payload.length === m.rawLength ? (payload.copy(into), into) : payload;
    else if (codec === 1) {
      chunk = into || Buffer.allocUnsafeSlow(m.rawLength);
      const n = dec.dctx.decompress(chunk, payload);
      if (n !== m.rawLength) chunk = chunk.subarray(0, n);
    } else throw new Error('unknown compression codec id ' + codec);
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, kind: 'malformed', why: String(err && err.message || err) });
    return;
  }
  if (chunk.length !== m.rawLength || createHmac('sha256', idKey).update(chunk).digest('hex') !== m.blobId) {
    parentPort.postMessage({ id: m.id, ok: false, kind: 'hash' });
    return;
  }
  reply(m.id, chunk, m.into);
});
`;

interface Reply {
  id: number;
  ok: boolean;
  plain?: Uint8Array;
  kind?: 'auth' | 'malformed' | 'hash';
  why?: string;
}

export class DecryptPool {
  readonly #pool: EvalWorkerPool<Reply>;

  constructor(dataKey: Uint8Array, idKey: Uint8Array, size = Math.max(1, Math.min(4, availableParallelism()))) {
    const workerData = { key: Uint8Array.from(dataKey), idKey: Uint8Array.from(idKey), zstdPath: zstdNapiPath() };
    this.#pool = new EvalWorkerPool<Reply>(workerSource, workerData, size);
  }

  /** Opens a chunk's envelope completely: authenticates, decrypts, decompresses to exactly `rawLength` bytes
   *  and checks that the keyed hash of the result is `blobId`. `envelope` is moved to a worker when it owns
   *  its ArrayBuffer. `into`, a spare buffer, is moved there too and comes back holding the chunk when it has
   *  room for it (the chunk is then a view of its first `rawLength` bytes). */
  async openChunk(blobId: string, aad: string, envelope: Buffer, rawLength: number, into?: ArrayBuffer): Promise<Buffer> {
    const what = `chunk "${blobId}"`;
    const m = await this.#pool.request({ aad, rawLength, blobId, ...(into ? { into } : {}) }, 'env', envelope, into ? [into] : []);
    if (m.ok && m.plain) return Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength);
    if (m.kind === 'malformed') throw new IntegrityErrorMalformedObject(what, m.why ?? 'it does not decompress');
    if (m.kind === 'hash') throw new IntegrityErrorChunkHashMismatch(blobId);
    throw new IntegrityErrorAuthenticationFailed(what);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
