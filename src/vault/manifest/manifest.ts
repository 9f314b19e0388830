/** Manifests: one recovery point, its metadata and named entries as chunk lists (vault-format.md §9).
 *  Types and validation only; a manifest is immutable once written (the commit point). */
import { IntegrityErrorMalformedObject } from '../errors.ts';
import type { BlobId, ManifestId } from '../ids.ts';
import { isObjectId } from '../ids.ts';

export interface ChunkRef {
  id: BlobId;
  /** Position of the chunk in its entry. */
  offset: number;
  length: number;
}

export interface ManifestEntry {
  name: string;
  sizeBytes: number;
  /** Plain SHA-256 of the entry's bytes, hex. */
  sha256: string;
  chunks: ChunkRef[];
}

export interface Manifest {
  version: 1;
  id: ManifestId;
  createdAt: string;
  meta: Record<string, unknown>;
  entries: ManifestEntry[];
  writer: { startedAt: string; knownPlans: string[] };
}

/** What save/commit return. */
export interface ManifestInfo {
  id: ManifestId;
  createdAt: string;
  entries: EntryInfo[];
  /** Sum over entries. */
  sizeBytes: number;
  newBytes: number;
  storedBytes: number;
}

export interface EntryInfo {
  name: string;
  sizeBytes: number;
  sha256: string;
  /** Plaintext bytes of chunks that were not in the vault yet. */
  newBytes: number;
  /** Bytes of new blob envelopes (compressed and encrypted) written for this entry. */
  storedBytes: number;
  chunkCount: number;
}

/** Checks the structure of a decrypted manifest; the id comes from its name (bound by the associated data). */
export function validateManifest(value: unknown, id: ManifestId): Manifest {
  const what = `manifest "${id}"`;
  const m = value as Omit<Manifest, 'id'>;
  if (typeof m !== 'object' || m === null || m.version !== 1 || !Array.isArray(m.entries) || typeof m.createdAt !== 'string') {
    throw new IntegrityErrorMalformedObject(what, 'not a version 1 manifest');
  }
  for (const e of m.entries) {
    if (typeof e.name !== 'string' || !Number.isInteger(e.sizeBytes) || typeof e.sha256 !== 'string' || !Array.isArray(e.chunks)) {
      throw new IntegrityErrorMalformedObject(what, 'bad entry');
    }
    let pos = 0;
    for (const c of e.chunks) {
      if (!isObjectId(c.id) || c.offset !== pos || !(c.length > 0)) throw new IntegrityErrorMalformedObject(what, `entry "${e.name}" has a bad chunk list`);
      pos += c.length;
    }
    if (pos !== e.sizeBytes) throw new IntegrityErrorMalformedObject(what, `entry "${e.name}" chunks do not add up to its size`);
  }
  return { ...(m as Omit<Manifest, 'id'>), id, meta: m.meta ?? {}, writer: m.writer ?? { startedAt: m.createdAt, knownPlans: [] } };
}
