/** Retries transient storage faults (TransientErrorStorageUnavailable, nothing else) with capped exponential
 *  backoff and full jitter, around any StorageBackend. It must never retry a user or integrity error, and
 *  never re-send a put whose stream body was already (partly) consumed: those bytes are gone. */
import { Readable } from 'node:stream';
import { isTransient } from '../../lib/index.ts';
import { abortReason } from '../body-chunks.ts';
import { StorageErrorAlreadyExists } from '../errors.ts';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';

export interface RetryOptions {
  /** Attempts per operation, the first included (default 5). */
  maxAttempts?: number;
  /** Delay cap before attempt n+1 is min(maxDelayMs, baseDelayMs * 2^(n-1)), then full jitter (default 200 ms, 15 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injected for tests; default a real timer that the signal cancels. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injected for tests; default Math.random. */
  random?: () => number;
  /** Called before each retry (for logs and metrics). */
  onRetry?: (info: { verb: string; key: string; attempt: number; delayMs: number; error: unknown }) => void;
}

/** The StorageBackend contract, plus: a transient failure is retried up to maxAttempts.
 *  - put(): retried when the body is a Buffer, or a Readable that was never read (readableDidRead false);
 *    a stream that was partly consumed cannot be replayed, so the transient error is thrown to the caller
 *    (the job queue retries the whole job). The vault passes Buffers (a pack is one view of its pack buffer,
 *    header included).
 *    A retried put-if-absent that meets StorageErrorAlreadyExists succeeds when the stored object equals
 *    its Buffer body (an earlier attempt landed, its reply was lost); otherwise the error stands.
 *  - get(): opening is retried; a download that breaks mid-stream with a transient error is resumed with a
 *    ranged get from the first byte not yet delivered, so the consumer sees one unbroken stream.
 *  - list(): retried only until the first key is yielded; a later failure is thrown (re-listing would
 *    repeat keys, and remembering every key costs memory).
 *  - stat(), delete(): retried (both idempotent). */
export class RetryingBackend implements StorageBackend {
  readonly capabilities: StorageCapabilities;
  readonly location: string;
  readonly #inner: StorageBackend;
  readonly #maxAttempts: number;
  readonly #base: number;
  readonly #cap: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #onRetry: RetryOptions['onRetry'];

  constructor(inner: StorageBackend, opts: RetryOptions = {}) {
    this.#inner = inner;
    this.capabilities = inner.capabilities;
    this.location = inner.location;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.#base = opts.baseDelayMs ?? 200;
    this.#cap = opts.maxDelayMs ?? 15_000;
    this.#sleep = opts.sleep ?? realSleep;
    this.#random = opts.random ?? Math.random;
    this.#onRetry = opts.onRetry;
  }

  /** The delay before attempt `attempt + 1` (attempt counts from 1): full jitter under a capped exponential. */
  delayMs(attempt: number): number {
    const ceiling = Math.min(this.#cap, this.#base * 2 ** (attempt - 1));
    return Math.floor(this.#random() * ceiling);
  }

  async #run<T>(verb: string, key: string, op: () => Promise<T>, signal?: AbortSignal, mayRetry: () => boolean = () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (!isTransient(err) || attempt >= this.#maxAttempts || !mayRetry() || signal?.aborted) throw err;
        const delayMs = this.delayMs(attempt);
        this.#onRetry?.({ verb, key, attempt, delayMs, error: err });
        await this.#sleep(delayMs, signal);
      }
    }
  }

  async put(key: StorageKey, body: Readable | Buffer, opts?: PutOptions): Promise<void> {
    const replayable = (): boolean => Buffer.isBuffer(body) || (!body.readableDidRead && !body.destroyed);
    let attempts = 0;
    try {
      await this.#run(
        'put',
        key,
        () => {
          attempts++;
          return this.#inner.put(key, body, opts);
        },
        opts?.signal,
        replayable,
      );
    } catch (err) {
      // An earlier attempt may have landed and only its reply was lost: then the object that "already
      // exists" is ours. Recognised by content (Buffer bodies only), so the caller is not told otherwise.
      if (err instanceof StorageErrorAlreadyExists && attempts > 1 && Buffer.isBuffer(body) && (await this.#holds(key, body))) return;
      throw err;
    }
  }

  async #holds(key: StorageKey, body: Buffer): Promise<boolean> {
    try {
      if ((await this.stat(key)).sizeBytes !== body.length) return false;
      const parts: Buffer[] = [];
      for await (const c of await this.get(key)) parts.push(c as Buffer);
      return Buffer.concat(parts).equals(body);
    } catch {
      return false;
    }
  }

  async get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const first = await this.#run('get', key, () => this.#inner.get(key, range, signal), signal);
    return this.#resuming(key, first, range?.offset ?? 0, range?.length, signal);
  }

  /** A stream that continues from `offset + delivered` when the source breaks with a transient error. */
  #resuming(key: StorageKey, first: Readable, offset: number, length: number | undefined, signal?: AbortSignal): Readable {
    return Readable.from(this.#resume(key, first, offset, length, signal), { objectMode: false });
  }

  async *#resume(key: StorageKey, first: Readable, offset: number, length: number | undefined, signal?: AbortSignal): AsyncGenerator<Buffer> {
    let delivered = 0;
    let src = first;
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const chunk of src) {
          const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
          delivered += b.length;
          yield b;
        }
        return;
      } catch (err) {
        src.destroy();
        if (!isTransient(err) || attempt >= this.#maxAttempts || signal?.aborted) throw err;
        const delayMs = this.delayMs(attempt);
        this.#onRetry?.({ verb: 'get', key, attempt, delayMs, error: err });
        await this.#sleep(delayMs, signal);
        const rest: ByteRange = { offset: offset + delivered, length: length === undefined ? Number.MAX_SAFE_INTEGER - offset - delivered : length - delivered };
        if (rest.length <= 0) return;
        src = await this.#run('get', key, () => this.#inner.get(key, rest, signal), signal);
      }
    }
  }

  stat(key: StorageKey): Promise<ObjectStat> {
    return this.#run('stat', key, () => this.#inner.stat(key));
  }

  async *list(prefix: string): AsyncIterable<StorageKey> {
    for (let attempt = 1; ; attempt++) {
      let yielded = false;
      try {
        for await (const k of this.#inner.list(prefix)) {
          yielded = true;
          yield k;
        }
        return;
      } catch (err) {
        if (yielded || !isTransient(err) || attempt >= this.#maxAttempts) throw err;
        const delayMs = this.delayMs(attempt);
        this.#onRetry?.({ verb: 'list', key: prefix, attempt, delayMs, error: err });
        await this.#sleep(delayMs);
      }
    }
  }

  delete(key: StorageKey): Promise<void> {
    return this.#run('delete', key, () => this.#inner.delete(key));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortReason(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
