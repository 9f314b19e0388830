/** The pg_dump custom archive format ("PGDMP"), as written by pg_backup_archiver.c and pg_backup_custom.c:
 *  constants and the shapes of a parsed header, TOC entry and data block. Pure data: no I/O.
 *  Versions 1.12–1.16 are understood (pg_dump 9.0 to 17); format identifiers here are PostgreSQL's, never ours. */

/** K_VERS_x_y as PostgreSQL computes it: ((major * 256 + minor) * 256 + rev) * 256. */
export function archiveVersion(major: number, minor: number, rev = 0): number {
  return ((major * 256 + minor) * 256 + rev) * 256;
}

export const K_VERS_1_10 = archiveVersion(1, 10);
export const K_VERS_1_11 = archiveVersion(1, 11);
export const K_VERS_1_12 = archiveVersion(1, 12);
export const K_VERS_1_14 = archiveVersion(1, 14);
export const K_VERS_1_15 = archiveVersion(1, 15);
export const K_VERS_1_16 = archiveVersion(1, 16);
/** The oldest and newest archive versions this reader accepts. */
export const MIN_READ_VERSION = K_VERS_1_12;
export const MAX_READ_VERSION = archiveVersion(1, 16, 255);

/** Block types of the data area (BLK_BLOB, 2, was last written before 8.x and is not accepted). */
export const BLK_DATA = 1;
export const BLK_BLOBS = 3;

/** The custom format's id in the header (archCustom). */
export const ARCH_CUSTOM = 1;

export type TocSection = 'none' | 'pre-data' | 'data' | 'post-data';
export const sectionByNumber: Record<number, TocSection> = { 1: 'none', 2: 'pre-data', 3: 'data', 4: 'post-data' };

/** K_OFFSET_*: whether an entry has data and whether its offset was written (only when pg_dump could seek). */
export type DataState = 'not-set' | 'set' | 'no-data';
export const dataStateByNumber: Record<number, DataState> = { 1: 'not-set', 2: 'set', 3: 'no-data' };

/** pg_compress_specification.algorithm (1.15+); older archives store a gzip level instead. */
export type CompressionAlgorithm = 'none' | 'gzip' | 'lz4' | 'zstd';
export const compressionByNumber: Record<number, CompressionAlgorithm> = { 0: 'none', 1: 'gzip', 2: 'lz4', 3: 'zstd' };

export interface ArchiveHeader {
  /** "1.14.0" and the K_VERS number. */
  version: string;
  versionNumber: number;
  intSize: number;
  offSize: number;
  compression: CompressionAlgorithm;
  /** Creation time as pg_dump's local time fields (no zone is stored). */
  createdAt: { year: number; month: number; day: number; hour: number; minute: number; second: number };
  database: string;
  serverVersion: string;
  dumpVersion: string;
}

export interface TocEntry {
  dumpId: number;
  /** The entry had a data dumper (TABLE DATA, BLOBS, SEQUENCE SET has none). */
  hadDumper: boolean;
  tableOid: number;
  oid: number;
  tag: string | null;
  /** "TABLE", "TABLE DATA", "INDEX", "ACL", "BLOBS" … */
  desc: string;
  section: TocSection;
  defn: string | null;
  dropStmt: string | null;
  copyStmt: string | null;
  namespace: string | null;
  tablespace: string | null;
  tableAm: string | null;
  /** pg_class.relkind as a character code (1.16+), else 0. */
  relkind: number;
  owner: string | null;
  dependencies: number[];
  dataState: DataState;
  /** Byte offset of the entry's data block when dataState is "set"; else 0. */
  dataOffset: number;
}

/** One data block as it passed: [offset, offset + lengthBytes) holds the block header, its chunks and end marker. */
export interface DataBlock {
  dumpId: number;
  kind: 'data' | 'blobs';
  offset: number;
  lengthBytes: number;
}

/** The archive's encoding, from its ENCODING entry (`SET client_encoding = 'LATIN1';`): the encoding of its names,
 *  definitions and data. Undefined when the archive has none. */
export function tocEncoding(toc: readonly { desc: string; defn: string | null }[]): string | undefined {
  return /'([^']+)'/.exec(toc.find((e) => e.desc === 'ENCODING')?.defn ?? '')?.[1];
}
