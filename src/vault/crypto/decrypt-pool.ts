/** AES-256-GCM decryption of blob envelopes on worker threads, so that a load uses every core: the main
 *  thread fetches, decompresses and hashes while workers authenticate and decrypt. The workers hold the data
 *  key in memory only; they never log, and a failed authentication comes back as a coded integrity error. */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { IntegrityErrorAuthenticationFailed } from '../errors.ts';

/** Plain JavaScript (eval worker): no loader or bundler is involved, only node: built-ins. Mirrors open() in envelope.ts. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createDecipheriv } = require('node:crypto');
const key = Buffer.from(workerData.key);
parentPort.on('message', (m) => {
  try {
    const env = Buffer.from(m.env.buffer, m.env.byteOffset, m.env.byteLength);
    if (env.length < 29) throw new Error('short');
    const d = createDecipheriv('aes-256-gcm', key, env.subarray(0, 12), { authTagLength: 16 });
    d.setAAD(Buffer.from(m.aad, 'ascii'));
    d.setAuthTag(env.subarray(env.length - 16));
    const body = d.update(env.subarray(12, env.length - 16));
    const last = d.final();
    const plain = last.length === 0 ? body : Buffer.concat([body, last]);
    const own = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength;
    parentPort.postMessage({ id: m.id, ok: true, plain }, own ? [plain.buffer] : []);
  } catch {
    parentPort.postMessage({ id: m.id, ok: false });
  }
});
`;

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: unknown) => void;
  what: string;
}

export class DecryptPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #turn = 0;

  constructor(dataKey: Uint8Array, size = Math.max(1, Math.min(4, availableParallelism()))) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(workerSource, { eval: true, workerData: { key: Uint8Array.from(dataKey) } });
      w.unref();
      w.on('message', (m: { id: number; ok: boolean; plain?: Uint8Array }) => {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        if (m.ok && m.plain) p.resolve(Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength));
        else p.reject(new IntegrityErrorAuthenticationFailed(p.what));
      });
      w.on('error', (err) => {
        for (const [id, p] of this.#pending) {
          this.#pending.delete(id);
          p.reject(err);
        }
      });
      this.#workers.push(w);
    }
  }

  /** Authenticates and decrypts one envelope (codec byte + payload come back); `what` names it in errors. */
  open(aad: string, envelope: Buffer, what: string): Promise<Buffer> {
    const id = this.#next++;
    const w = this.#workers[this.#turn++ % this.#workers.length]!;
    return new Promise<Buffer>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, what });
      const own = envelope.byteOffset === 0 && envelope.byteLength === envelope.buffer.byteLength;
      w.postMessage({ id, aad, env: envelope }, own ? [envelope.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}
