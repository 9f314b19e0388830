/** Bytes by key: the contract every storage driver (filesystem, Azure Blob, S3) fulfils.
 *  It knows nothing of chunks, packs, compression or encryption; the vault layer above owns those.
 *  Every driver passes the shared conformance suite in src/storage/testing/. */
import type { Readable } from 'node:stream';

/** A slash-separated object key relative to the backend's root, e.g. "data/3f/3f9a…". Never starts with "/",
 *  never contains "..", "//", NUL or backslashes (checked by parseStorageKey). */
export type StorageKey = string & { readonly __brand: 'StorageKey' };

export interface ByteRange {
  /** First byte, inclusive. */
  offset: number;
  /** Number of bytes; the read ends early only at the end of the object. */
  length: number;
}

export interface ObjectStat {
  sizeBytes: number;
  /** Last modification time, used by prune's grace period. */
  modifiedAt: Date;
}

export interface StorageCapabilities {
  /** put({ ifAbsent: true }) is enforced atomically by the store (not check-then-put). */
  atomicPutIfAbsent: boolean;
  /** The store can hold objects immutable until a date (WORM); the vault uses it for locked vaults. */
  immutability: boolean;
  /** get() with a range is served by the store (not by reading and discarding). */
  rangedReads: boolean;
}

export interface PutOptions {
  /** Fail with StorageErrorAlreadyExists when the key exists; atomic when capabilities.atomicPutIfAbsent. */
  ifAbsent?: boolean;
  signal?: AbortSignal;
}

/** Bytes by key.
 *  - put() is atomic: readers see the whole object or none of it; a failed or aborted put leaves nothing.
 *    put() overwrites unless ifAbsent; the vault never overwrites (objects are named by content or by a
 *    random id).
 *  - get() and stat() throw StorageErrorNotFound for a missing key; get() with a range beyond the end
 *    returns the bytes that exist.
 *  - list(prefix) yields every key starting with prefix, in no promised order, each exactly once.
 *  - delete() of a missing key succeeds (idempotent).
 *  - A key that is also a prefix of other keys ("a" and "a/b") is not portable: the filesystem driver refuses
 *    the second one with UserErrorInvalidStorageKey. The vault never needs both.
 *  - Transient faults throw TransientErrorStorageUnavailable; drivers translate SDK errors at the boundary. */
export interface StorageBackend {
  readonly capabilities: StorageCapabilities;
  /** A human-readable location without credentials, for messages ("file:///srv/vault", "azblob://acct/container/prefix"). */
  readonly location: string;
  put(key: StorageKey, body: Readable | Buffer, opts?: PutOptions): Promise<void>;
  get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  stat(key: StorageKey): Promise<ObjectStat>;
  list(prefix: string): AsyncIterable<StorageKey>;
  delete(key: StorageKey): Promise<void>;
  /** Releases connections and handles; further calls are undefined. */
  close(): Promise<void>;
}
