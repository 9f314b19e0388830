/** The vault's index: which pack holds each blob (vault-format.md §8). Holds the union of index files in
 *  memory and encodes/decodes one index file. Never drops an entry on its own; only prune replaces files. */
import type { PackBlob } from '../pack/pack-format.ts';
import { IntegrityErrorMalformedObject } from '../errors.ts';
import { isObjectId } from '../ids.ts';

export interface IndexFile {
  version: 1;
  createdAt: string;
  packs: IndexedPack[];
}

export interface IndexedPack {
  id: string;
  /** Total pack size including header and trailer. */
  sizeBytes: number;
  blobs: PackBlob[];
}

export interface BlobLocation {
  packId: string;
  offset: number;
  length: number;
  rawLength: number;
}

export function validateIndexFile(value: unknown, what: string): IndexFile {
  const v = value as IndexFile;
  if (typeof v !== 'object' || v === null || v.version !== 1 || !Array.isArray(v.packs)) throw new IntegrityErrorMalformedObject(what, 'not a version 1 index');
  for (const p of v.packs) {
    if (!isObjectId(p.id) || !Number.isInteger(p.sizeBytes) || !Array.isArray(p.blobs)) throw new IntegrityErrorMalformedObject(what, 'bad pack entry');
    for (const b of p.blobs) {
      if (!isObjectId(b.id) || !Number.isInteger(b.offset) || !Number.isInteger(b.length) || !Number.isInteger(b.rawLength)) {
        throw new IntegrityErrorMalformedObject(what, `bad blob entry in pack "${p.id}"`);
      }
    }
  }
  return v;
}

/** The in-memory union of index files. */
export class VaultIndex {
  readonly blobs = new Map<string, BlobLocation>();
  /** packId → the pack as indexed, and the index files naming it. */
  readonly packs = new Map<string, { pack: IndexedPack; indexIds: Set<string> }>();
  readonly indexIds = new Set<string>();

  addFile(indexId: string, file: IndexFile): void {
    this.indexIds.add(indexId);
    for (const p of file.packs) this.addPack(p, indexId);
  }

  addPack(p: IndexedPack, indexId: string): void {
    const known = this.packs.get(p.id);
    if (known) known.indexIds.add(indexId);
    else this.packs.set(p.id, { pack: p, indexIds: new Set([indexId]) });
    for (const b of p.blobs) {
      if (!this.blobs.has(b.id)) this.blobs.set(b.id, { packId: p.id, offset: b.offset, length: b.length, rawLength: b.rawLength });
    }
  }

  has(blobId: string): boolean {
    return this.blobs.has(blobId);
  }

  get(blobId: string): BlobLocation | undefined {
    return this.blobs.get(blobId);
  }
}
