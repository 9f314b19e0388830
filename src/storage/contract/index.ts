/** The storage layer's contract alone: the StorageBackend interface, its errors and key rules, without any
 *  driver. Modules above storage that only use a backend they are given (the vault, restore as files) enter
 *  here, so that loading them does not load the cloud SDKs of every driver (~2 MB of code, ~0.2 s of start-up
 *  for a short-lived process such as a command-line save). */
export type { StorageBackend, StorageKey, ByteRange, ObjectStat, StorageCapabilities, PutOptions } from '../storage-backend.ts';
export {
  StorageErrorNotFound,
  StorageErrorAlreadyExists,
  TransientErrorStorageUnavailable,
  UserErrorInvalidStorageUrl,
  UserErrorInvalidStorageKey,
  UserErrorStorageAccessDenied,
  UserErrorStorageReadOnly,
} from '../errors.ts';
export { parseStorageKey, parseStoragePrefix, checkByteRange, maxKeyBytes, maxSegmentBytes } from '../storage-key.ts';
