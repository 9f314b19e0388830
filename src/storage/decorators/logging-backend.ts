/** Logs every storage call (verb, key, bytes, duration, outcome) through an injected structured logger,
 *  pino-compatible. Keys and locations are not secrets; it never logs bodies, and error text goes through
 *  the coded error (already redacted). Adds no behaviour: results and errors pass through unchanged. */
import { Transform, type Readable } from 'node:stream';
import { asPgvaultError } from '../../lib/index.ts';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';

/** The subset of pino's Logger this decorator uses. */
export interface StorageLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface LoggingBackendOptions {
  /** Milliseconds since some origin; injected for tests. Default performance.now. */
  now?: () => number;
}

/** A StorageBackend that reports each call: debug for successes (and NotFound, an ordinary answer to a
 *  probe), warn for failures. get() is reported when its stream ends or fails, with the bytes read. */
export class LoggingBackend implements StorageBackend {
  readonly capabilities: StorageCapabilities;
  readonly location: string;
  readonly #inner: StorageBackend;
  readonly #log: StorageLogger;
  readonly #now: () => number;

  constructor(inner: StorageBackend, log: StorageLogger, opts: LoggingBackendOptions = {}) {
    this.#inner = inner;
    this.#log = log;
    this.capabilities = inner.capabilities;
    this.location = inner.location;
    this.#now = opts.now ?? (() => performance.now());
  }

  #ok(verb: string, key: string, started: number, extra: Record<string, unknown> = {}): void {
    this.#log.debug({ storage: this.location, verb, key, durationMs: Math.round(this.#now() - started), ...extra }, `storage ${verb}`);
  }

  #failed(verb: string, key: string, started: number, err: unknown, extra: Record<string, unknown> = {}): void {
    const e = asPgvaultError(err);
    const fields = { storage: this.location, verb, key, durationMs: Math.round(this.#now() - started), code: e.code, ...extra };
    if (e.code === 'StorageErrorNotFound') this.#log.debug(fields, `storage ${verb}: not found`);
    else this.#log.warn({ ...fields, message: e.message }, `storage ${verb} failed`);
  }

  async #call<T>(verb: string, key: string, op: () => Promise<T>, extra: Record<string, unknown> = {}): Promise<T> {
    const started = this.#now();
    try {
      const r = await op();
      this.#ok(verb, key, started, extra);
      return r;
    } catch (err) {
      this.#failed(verb, key, started, err, extra);
      throw err;
    }
  }

  put(key: StorageKey, body: Readable | Buffer, opts?: PutOptions): Promise<void> {
    return this.#call('put', key, () => this.#inner.put(key, body, opts), {
      ...(Buffer.isBuffer(body) ? { sizeBytes: body.length } : {}),
      ...(opts?.ifAbsent ? { ifAbsent: true } : {}),
    });
  }

  async get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const started = this.#now();
    const extra = range ? { offset: range.offset, length: range.length } : {};
    let src: Readable;
    try {
      src = await this.#inner.get(key, range, signal);
    } catch (err) {
      this.#failed('get', key, started, err, extra);
      throw err;
    }
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    src.on('error', (err) => {
      this.#failed('get', key, started, err, { ...extra, bytesRead: bytes });
      counter.destroy(err);
    });
    counter.on('end', () => this.#ok('get', key, started, { ...extra, bytesRead: bytes }));
    counter.on('close', () => {
      if (!src.destroyed) src.destroy();
    });
    return src.pipe(counter);
  }

  stat(key: StorageKey): Promise<ObjectStat> {
    return this.#call('stat', key, () => this.#inner.stat(key));
  }

  async *list(prefix: string): AsyncIterable<StorageKey> {
    const started = this.#now();
    let n = 0;
    try {
      for await (const k of this.#inner.list(prefix)) {
        n++;
        yield k;
      }
    } catch (err) {
      this.#failed('list', prefix, started, err, { keys: n });
      throw err;
    }
    this.#ok('list', prefix, started, { keys: n });
  }

  delete(key: StorageKey): Promise<void> {
    return this.#call('delete', key, () => this.#inner.delete(key));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
