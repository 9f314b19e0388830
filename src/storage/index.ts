/** The storage layer: the StorageBackend contract, its drivers and decorators. */
export type { StorageBackend, StorageKey, ByteRange, ObjectStat, StorageCapabilities, PutOptions } from './storage-backend.ts';
