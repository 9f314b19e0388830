/** The vault module: a deduplicated, compressed, encrypted store of byte streams (docs/design/vault-format.md).
 *  The only entry point into src/vault; chunker, crypto and codecs are pure and exported for tests and tools. */
export { Vault, type KeyInfo, type VaultOpenOptions, type VaultCreateOptions, type VaultConfig } from './vault.ts';
export type { ManifestWriter, WriterTuning } from './manifest-writer.ts';
export type { Manifest, ManifestEntry, ManifestInfo, EntryInfo, ChunkRef } from './manifest/manifest.ts';
export type { CheckReport, CheckProblem, CheckProblemKind } from './check.ts';
export type { PruneReport } from './prune.ts';
export type { ScryptParams } from './crypto/master-key.ts';
export { defaultScryptParams } from './crypto/master-key.ts';
export { parseManifestId, parseKeyId, type ManifestId, type KeyId, type BlobId } from './ids.ts';
export { Chunker, defaultChunkerParams, type ChunkerParams } from './chunker/chunker.ts';
export { gearTable } from './chunker/gear-table.ts';
export { CompressionId } from './compression/codec.ts';
export {
  UserErrorWrongPassphrase,
  UserErrorVaultExists,
  UserErrorVaultNotFound,
  UserErrorVaultVersionUnsupported,
  UserErrorKeyInUse,
  IntegrityErrorAuthenticationFailed,
  IntegrityErrorChunkHashMismatch,
  IntegrityErrorObjectMissing,
  IntegrityErrorMalformedObject,
  TransientErrorPruneConflict,
} from './errors.ts';
