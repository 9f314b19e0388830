/** The storage layer: the StorageBackend contract (also on its own in contract/index.ts), its drivers and decorators. */
export * from './contract/index.ts';
export { FilesystemBackend } from './filesystem/filesystem-backend.ts';
export { AzureBlobBackend, type AzureBlobOptions } from './azure-blob/azure-blob-backend.ts';
export { parseAzureBlobUrl, type AzureBlobLocation } from './azure-blob/azure-blob-location.ts';
export { MemoryBackend, type MemoryBackendOptions } from './memory/memory-backend.ts';
export { RetryingBackend, type RetryOptions } from './decorators/retrying-backend.ts';
export { FaultyBackend, type Fault, type FaultRule, type FaultyBackendOptions, type StorageVerb } from './decorators/faulty-backend.ts';
export { ReadOnlyBackend } from './decorators/read-only-backend.ts';
export { S3Backend, parseS3Url, type S3Options, type S3Location } from './s3/s3-backend.ts';
export { openStorage, storageKindOf, filesystemRootOf, type OpenStorageOptions } from './open-storage.ts';
export { LoggingBackend, type StorageLogger, type LoggingBackendOptions } from './decorators/logging-backend.ts';
