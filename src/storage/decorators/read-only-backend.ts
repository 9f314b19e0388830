/** A read-only view of a StorageBackend: reads pass through, writes fail with UserErrorStorageReadOnly
 *  before they reach the store. Used for check, restore and verify, so that a bug there cannot write. */
import type { Readable } from 'node:stream';
import { UserErrorStorageReadOnly } from '../errors.ts';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';
import { parseStorageKey } from '../storage-key.ts';

/** get, stat and list delegate; put and delete throw UserErrorStorageReadOnly (after the key check, so
 *  an invalid key still reports UserErrorInvalidStorageKey). */
export class ReadOnlyBackend implements StorageBackend {
  readonly capabilities: StorageCapabilities;
  readonly location: string;
  readonly #inner: StorageBackend;

  constructor(inner: StorageBackend) {
    this.#inner = inner;
    this.capabilities = inner.capabilities;
    this.location = inner.location;
  }

  async put(key: StorageKey, body: Readable | Buffer, _opts?: PutOptions): Promise<void> {
    parseStorageKey(key);
    if (!Buffer.isBuffer(body)) body.destroy(); // nobody else will drain it
    throw new UserErrorStorageReadOnly('put', key, this.location);
  }

  get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    return this.#inner.get(key, range, signal);
  }

  stat(key: StorageKey): Promise<ObjectStat> {
    return this.#inner.stat(key);
  }

  list(prefix: string): AsyncIterable<StorageKey> {
    return this.#inner.list(prefix);
  }

  async delete(key: StorageKey): Promise<void> {
    parseStorageKey(key);
    throw new UserErrorStorageReadOnly('delete', key, this.location);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
