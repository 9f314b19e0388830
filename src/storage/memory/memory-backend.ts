/** The in-memory driver: a Map of immutable Buffers, for unit tests of the layers above (vault, operations)
 *  and for fast fault-injection runs. Same contract as every driver (it passes the conformance suite);
 *  it must never share a Buffer with a caller, so that nobody can alter a stored object in place. */
import { Readable } from 'node:stream';
import { systemClock, type Clock } from '../../lib/index.ts';
import { allowSharedSignal, bodyChunks } from '../body-chunks.ts';
import { StorageErrorAlreadyExists, StorageErrorNotFound } from '../errors.ts';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';
import { checkByteRange, parseStorageKey, parseStoragePrefix } from '../storage-key.ts';

export interface MemoryBackendOptions {
  /** Stamps modifiedAt; inject a ManualClock to test grace periods. */
  clock?: Clock;
  /** Shown in messages; defaults to "memory://". */
  location?: string;
}

interface StoredObject {
  data: Buffer;
  modifiedAt: Date;
}

/** StorageBackend in process memory. put() collects the body, then stores it in one synchronous step, so
 *  ifAbsent is atomic and readers never see a partial object. get() serves a copy in 64 KiB pieces. */
export class MemoryBackend implements StorageBackend {
  readonly capabilities: StorageCapabilities = { atomicPutIfAbsent: true, immutability: false, rangedReads: true };
  readonly location: string;
  readonly #objects = new Map<string, StoredObject>();
  readonly #clock: Clock;

  constructor(opts: MemoryBackendOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.location = opts.location ?? 'memory://';
  }

  async put(key: StorageKey, body: Readable | Buffer, opts: PutOptions = {}): Promise<void> {
    const k = parseStorageKey(key);
    if (opts.ifAbsent && this.#objects.has(k)) throw new StorageErrorAlreadyExists(k, this.location);
    const parts: Buffer[] = [];
    for await (const c of bodyChunks(body, opts.signal)) parts.push(Buffer.from(c)); // copies: the caller may reuse its buffers
    const data = Buffer.concat(parts);
    if (opts.ifAbsent && this.#objects.has(k)) throw new StorageErrorAlreadyExists(k, this.location);
    this.#objects.set(k, { data, modifiedAt: this.#clock.now() });
  }

  async get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const k = parseStorageKey(key);
    checkByteRange(range);
    allowSharedSignal(signal);
    const obj = this.#objects.get(k);
    if (!obj) throw new StorageErrorNotFound(k, this.location);
    const start = Math.min(range?.offset ?? 0, obj.data.length);
    const end = range ? Math.min(start + range.length, obj.data.length) : obj.data.length;
    const bytes = Buffer.from(obj.data.subarray(start, end));
    const pieces: Buffer[] = [];
    for (let off = 0; off < bytes.length; off += 64 * 1024) pieces.push(bytes.subarray(off, off + 64 * 1024));
    return Readable.from(pieces, signal ? { signal } : {});
  }

  async stat(key: StorageKey): Promise<ObjectStat> {
    const k = parseStorageKey(key);
    const obj = this.#objects.get(k);
    if (!obj) throw new StorageErrorNotFound(k, this.location);
    return { sizeBytes: obj.data.length, modifiedAt: new Date(obj.modifiedAt) };
  }

  /** Yields a snapshot of the keys taken when iteration starts. */
  async *list(prefix: string): AsyncIterable<StorageKey> {
    const p = parseStoragePrefix(prefix);
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(p));
    for (const k of keys) yield k as StorageKey;
  }

  async delete(key: StorageKey): Promise<void> {
    this.#objects.delete(parseStorageKey(key));
  }

  async close(): Promise<void> {}

  /** Test support: the number of stored objects and their total size. */
  get usage(): { objects: number; bytes: number } {
    let bytes = 0;
    for (const o of this.#objects.values()) bytes += o.data.length;
    return { objects: this.#objects.size, bytes };
  }
}
