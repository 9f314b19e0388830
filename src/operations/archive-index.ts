/** The archive index pgvault stores beside each dump in a recovery point: where the TOC ends and the byte
 *  range of every data block, recorded by the archive reader while the dump streamed into the vault (no second
 *  pass). Restore uses it to read only the blocks it needs, by range, for parallel and item-level restore.
 *  Persisted in manifests: the format id is never reused; fields are only ever added. */
import { IntegrityError, type PgvaultErrorOptions } from '../lib/index.ts';
import type { ArchiveHeader, DataBlock } from '../postgres/index.ts';

export const archiveIndexFormat = 'pgvault.archive-index.v1';

export interface ArchiveIndexRecord {
  format: typeof archiveIndexFormat;
  archiveVersion: string;
  /** The database name pg_dump wrote into the header. */
  database: string;
  serverVersion: string;
  dumpVersion: string;
  /** Bytes [0, tocEndOffset) are the header and TOC: a valid archive without data. */
  tocEndOffset: number;
  totalBytes: number;
  tocEntries: number;
  /** [dumpId, offset, lengthBytes, kind] per data block, in stream order. */
  blocks: [number, number, number, 'data' | 'blobs'][];
}

/** The stored archive index does not parse or does not describe the archive it sits beside. */
export class IntegrityErrorArchiveIndexInvalid extends IntegrityError {
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, {
      hint: 'The recovery point is damaged: run `check --read-data` on the vault. The archive itself can still be restored serially or as files.',
      ...opts,
    });
  }
}

export function buildArchiveIndex(header: ArchiveHeader, tocEntries: number, tocEndOffset: number, blocks: DataBlock[], totalBytes: number): ArchiveIndexRecord {
  return {
    format: archiveIndexFormat,
    archiveVersion: header.version,
    database: header.database,
    serverVersion: header.serverVersion,
    dumpVersion: header.dumpVersion,
    tocEndOffset,
    totalBytes,
    tocEntries,
    blocks: blocks.map((b) => [b.dumpId, b.offset, b.lengthBytes, b.kind]),
  };
}

export function parseArchiveIndex(bytes: Buffer, entryName: string, archiveSizeBytes: number): ArchiveIndexRecord {
  let value: ArchiveIndexRecord;
  try {
    value = JSON.parse(bytes.toString('utf8')) as ArchiveIndexRecord;
  } catch (err) {
    throw new IntegrityErrorArchiveIndexInvalid(`the archive index "${entryName}" is not JSON`, { cause: err });
  }
  if (value?.format !== archiveIndexFormat || !Array.isArray(value.blocks) || !Number.isInteger(value.tocEndOffset)) {
    throw new IntegrityErrorArchiveIndexInvalid(`the archive index "${entryName}" is not a ${archiveIndexFormat} record`);
  }
  if (value.totalBytes !== archiveSizeBytes) {
    throw new IntegrityErrorArchiveIndexInvalid(`the archive index "${entryName}" describes ${value.totalBytes} bytes but the archive holds ${archiveSizeBytes}`);
  }
  let at = value.tocEndOffset;
  for (const [id, offset, length] of value.blocks) {
    if (offset !== at || !(length > 0) || !(id > 0)) {
      throw new IntegrityErrorArchiveIndexInvalid(`the archive index "${entryName}" has a gap or overlap at byte ${offset}`);
    }
    at += length;
  }
  if (at !== value.totalBytes) throw new IntegrityErrorArchiveIndexInvalid(`the archive index "${entryName}" does not cover the archive to its end`);
  return value;
}

export function blocksOf(index: ArchiveIndexRecord): DataBlock[] {
  return index.blocks.map(([dumpId, offset, lengthBytes, kind]) => ({ dumpId, offset, lengthBytes, kind }));
}
