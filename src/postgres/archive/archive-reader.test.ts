/** Golden tests of the archive reader on real archives written by pg_dump 15 (format 1.14) against a real server:
 *  the TOC matches `pg_restore -l`, data block ranges match the offsets pg_dump itself writes into a seekable
 *  file, payloads equal the table's COPY text, and the result does not depend on how the bytes are split. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type PgCluster } from '../../../test/support/index.ts';
import { ArchiveReader, IntegrityErrorArchiveMalformed, readArchiveIndex, type ArchiveIndex, type DataBlock } from './index.ts';

let cluster: PgCluster;
let dir: string;
let piped: Buffer;
let seekable: Buffer;
let gzipped: Buffer;

function pgDump(args: string[]): Buffer {
  const r = spawnSync('pg_dump', ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.superuser, ...args], {
    env: { ...process.env, PGPASSWORD: cluster.password },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr.toString()}`);
  return r.stdout;
}

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  dir = mkdtempSync(join(tmpdir(), 'pgvault-archive-test-'));
  await cluster.createDatabase('golden');
  await cluster.query(
    `CREATE SCHEMA shop;
     CREATE TABLE shop.items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags jsonb);
     INSERT INTO shop.items (name, price, tags) SELECT 'item ' || g, g * 1.5, jsonb_build_object('g', g) FROM generate_series(1, 2000) g;
     CREATE TABLE public.empty_table (x int);
     CREATE TABLE public.blobs (id int, b bytea);
     INSERT INTO public.blobs SELECT g, decode(repeat('ab', 5000), 'hex') FROM generate_series(1, 50) g;
     SELECT lo_from_bytea(0, 'large object payload'::bytea);
     CREATE INDEX items_name ON shop.items (name);
     COMMENT ON TABLE shop.items IS 'the items';`,
    [],
    'golden',
  );
  piped = pgDump(['-Fc', '-Z0', 'golden']);
  pgDump(['-Fc', '-Z0', '-f', join(dir, 'seekable.dump'), 'golden']);
  seekable = readFileSync(join(dir, 'seekable.dump'));
  pgDump(['-Fc', '-Z6', '-f', join(dir, 'gzip.dump'), 'golden']);
  gzipped = readFileSync(join(dir, 'gzip.dump'));
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function parse(bytes: Buffer, pieces?: number[]): ArchiveIndex & { payload: Map<number, Buffer[]> } {
  const blocks: DataBlock[] = [];
  const payload = new Map<number, Buffer[]>();
  const reader = new ArchiveReader({
    onBlockEnd: (b) => blocks.push(b),
    onData: (id, p) => {
      const list = payload.get(id) ?? [];
      list.push(Buffer.from(p));
      payload.set(id, list);
    },
  });
  if (!pieces) reader.write(bytes);
  else {
    let at = 0;
    let k = 0;
    while (at < bytes.length) {
      const n = pieces[k++ % pieces.length]!;
      reader.write(bytes.subarray(at, at + n));
      at += n;
    }
  }
  reader.end();
  return { header: reader.header!, toc: [...reader.toc], tocEndOffset: reader.tocEndOffset, blocks, totalBytes: reader.offset, payload };
}

/** Test-side encoder of the custom format (pg_backup_archiver.c WriteHead/WriteToc, pg_backup_custom.c
 *  _WriteExtraToc) to produce 1.15 and 1.16 archives from a real 1.14 one: no pg_dump 16/17 exists here. */
function encodeArchive(idx: ArchiveIndex, minor: number, data: Buffer, relkinds: Map<number, number> = new Map()): Buffer {
  const parts: Buffer[] = [];
  const byte = (b: number): void => void parts.push(Buffer.from([b]));
  const int = (v: number): void => {
    const b = Buffer.alloc(5);
    b[0] = v < 0 ? 1 : 0;
    b.writeUInt32LE(Math.abs(v), 1);
    parts.push(b);
  };
  const str = (v: string | null): void => {
    if (v === null) return int(-1);
    const b = Buffer.from(v, 'utf8');
    int(b.length);
    parts.push(b);
  };
  const h = idx.header;
  parts.push(Buffer.from('PGDMP'));
  [1, minor, 0, 4, 8, 1].forEach(byte);
  if (minor >= 15) byte(0);
  else int(0);
  [h.createdAt.second, h.createdAt.minute, h.createdAt.hour, h.createdAt.day, h.createdAt.month - 1, h.createdAt.year - 1900, 0].forEach(int);
  str(h.database);
  str(h.serverVersion);
  str(h.dumpVersion);
  int(idx.toc.length);
  const sections = { none: 1, 'pre-data': 2, data: 3, 'post-data': 4 } as const;
  for (const e of idx.toc) {
    int(e.dumpId);
    int(e.hadDumper ? 1 : 0);
    str(String(e.tableOid));
    str(String(e.oid));
    str(e.tag);
    str(e.desc);
    int(sections[e.section]);
    [e.defn, e.dropStmt, e.copyStmt, e.namespace, e.tablespace, e.tableAm].forEach(str);
    if (minor >= 16) int(relkinds.get(e.dumpId) ?? 0);
    str(e.owner);
    str('false');
    for (const d of e.dependencies) str(String(d));
    str(null);
    byte({ 'not-set': 1, set: 2, 'no-data': 3 }[e.dataState]);
    const off = Buffer.alloc(8);
    off.writeBigUInt64LE(BigInt(e.dataOffset));
    parts.push(off);
  }
  parts.push(data);
  return Buffer.concat(parts);
}

function pgRestoreList(file: string): { id: number; desc: string }[] {
  const r = spawnSync('pg_restore', ['-l', file]);
  expect(r.status).toBe(0);
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => /^\d+;/.test(l))
    .map((l) => ({ id: Number(l.split(';')[0]), desc: l }));
}

describe('ArchiveReader on pg_dump 15 archives', () => {
  it('reads the header of a piped -Z0 archive', () => {
    const { header } = parse(piped);
    expect(header.version).toBe('1.14.0');
    expect(header.intSize).toBe(4);
    expect(header.offSize).toBe(8);
    expect(header.compression).toBe('none');
    expect(header.database).toBe('golden');
    expect(header.serverVersion.startsWith(cluster.version)).toBe(true);
    expect(header.dumpVersion).toMatch(/^15\./);
    expect(header.createdAt.year).toBeGreaterThanOrEqual(2024);
  });

  it('reads every TOC entry that pg_restore -l lists, with its fields', () => {
    const { toc } = parse(seekable);
    const listed = pgRestoreList(join(dir, 'seekable.dump'));
    // pg_restore -l leaves out the entries it treats specially.
    const special = new Set(['ENCODING', 'STDSTRINGS', 'SEARCHPATH', 'DATABASE']);
    expect(toc.filter((e) => special.has(e.desc)).length).toBe(4);
    expect(toc.filter((e) => !special.has(e.desc)).map((e) => e.dumpId).sort((a, b) => a - b)).toEqual(listed.map((l) => l.id).sort((a, b) => a - b));
    for (const l of listed) {
      const e = toc.find((t) => t.dumpId === l.id)!;
      // "id; tableoid oid DESC namespace tag owner"
      expect(l.desc).toContain(` ${e.desc} `);
      expect(l.desc).toContain(`${e.tableOid} ${e.oid} `);
      if (e.owner) expect(l.desc.endsWith(` ${e.owner}`)).toBe(true);
    }
    const table = toc.find((e) => e.desc === 'TABLE' && e.tag === 'items')!;
    expect(table.namespace).toBe('shop');
    expect(table.section).toBe('pre-data');
    expect(table.owner).toBe(cluster.superuser);
    expect(table.tableAm).toBe('heap');
    expect(table.defn).toContain('CREATE TABLE shop.items');
    const data = toc.find((e) => e.desc === 'TABLE DATA' && e.tag === 'items')!;
    expect(data.section).toBe('data');
    expect(data.hadDumper).toBe(true);
    expect(data.dependencies).toContain(table.dumpId);
    expect(data.copyStmt).toContain('COPY shop.items');
    expect(toc.find((e) => e.desc === 'INDEX' && e.tag === 'items_name')!.section).toBe('post-data');
    expect(toc.find((e) => e.desc === 'COMMENT')!.section).toBe('none');
    expect(toc.some((e) => e.desc === 'BLOBS')).toBe(true);
  });

  it('finds data blocks exactly where pg_dump recorded their offsets in a seekable archive', () => {
    const idx = parse(seekable);
    const withData = idx.toc.filter((e) => e.dataState === 'set');
    expect(withData.length).toBe(idx.blocks.length);
    for (const e of withData) {
      const b = idx.blocks.find((x) => x.dumpId === e.dumpId)!;
      expect(b.offset).toBe(e.dataOffset);
    }
    expect(idx.blocks.find((b) => b.kind === 'blobs')).toBeDefined();
  });

  it('covers a piped archive with contiguous blocks from the end of the TOC to the last byte', () => {
    const idx = parse(piped);
    expect(idx.toc.every((e) => e.dataState !== 'set')).toBe(true);
    let at = idx.tocEndOffset;
    for (const b of idx.blocks) {
      expect(b.offset).toBe(at);
      at += b.lengthBytes;
    }
    expect(at).toBe(piped.length);
    expect(idx.totalBytes).toBe(piped.length);
    // Every entry with a dumper has one block, in TOC order.
    const dumped = idx.toc.filter((e) => e.hadDumper && e.dataState === 'not-set').map((e) => e.dumpId);
    expect(idx.blocks.map((b) => b.dumpId)).toEqual(dumped);
  });

  it('passes table data through unchanged: the payload is the COPY text of the table', async () => {
    const idx = parse(piped);
    const data = idx.toc.find((e) => e.desc === 'TABLE DATA' && e.tag === 'items')!;
    const text = Buffer.concat(idx.payload.get(data.dumpId)!).toString('utf8');
    const rows = text.split('\n').filter((l) => l.length > 0 && l !== '\\.');
    expect(rows.length).toBe(2000);
    expect(rows[0]).toBe('1\titem 1\t1.50\t{"g": 1}');
    const empty = idx.toc.find((e) => e.desc === 'TABLE DATA' && e.tag === 'empty_table')!;
    expect(Buffer.concat(idx.payload.get(empty.dumpId)!).toString().trim()).toBe('\\.');
    const blobs = idx.toc.find((e) => e.desc === 'BLOBS')!;
    expect(Buffer.concat(idx.payload.get(blobs.dumpId)!).toString()).toBe('large object payload');
  });

  it('splits compressed archives into the same blocks pg_dump recorded', () => {
    const idx = parse(gzipped);
    expect(idx.header.compression).toBe('gzip');
    for (const e of idx.toc.filter((t) => t.dataState === 'set')) {
      expect(idx.blocks.find((b) => b.dumpId === e.dumpId)!.offset).toBe(e.dataOffset);
    }
  });

  it('gives the same result however the bytes are split', () => {
    const whole = parse(piped);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }), (pieces) => {
        const split = parse(piped, pieces);
        expect(split.blocks).toEqual(whole.blocks);
        expect(split.toc).toEqual(whole.toc);
        expect(split.tocEndOffset).toBe(whole.tocEndOffset);
      }),
      { numRuns: 25 },
    );
  });

  it('re-encodes a 1.14 archive byte for byte, and reads the 1.15 and 1.16 layouts of the same archive', () => {
    const idx = parse(piped);
    const data = piped.subarray(idx.tocEndOffset);
    expect(encodeArchive(idx, 14, data).equals(piped)).toBe(true);
    const relkinds = new Map(idx.toc.filter((e) => e.desc === 'TABLE').map((e) => [e.dumpId, 'r'.charCodeAt(0)]));
    for (const minor of [15, 16]) {
      const bytes = encodeArchive(idx, minor, data, relkinds);
      const other = parse(bytes);
      expect(other.header.version).toBe(`1.${minor}.0`);
      expect(other.header.compression).toBe('none');
      expect(other.toc.map((e) => ({ ...e, relkind: 0 }))).toEqual(idx.toc);
      if (minor === 16) expect(other.toc.find((e) => e.desc === 'TABLE')!.relkind).toBe(114);
      const shift = other.tocEndOffset - idx.tocEndOffset;
      expect(other.blocks).toEqual(idx.blocks.map((b) => ({ ...b, offset: b.offset + shift })));
    }
    // 1.17 is refused until someone reads what it changed.
    const future = Buffer.from(piped);
    future[6] = 17;
    expect(() => parse(future)).toThrow(/version 1\.17\.0 is not supported/);
  });

  it('readArchiveIndex reads a stream', async () => {
    async function* gen(): AsyncGenerator<Buffer> {
      for (let i = 0; i < piped.length; i += 4096) yield piped.subarray(i, i + 4096);
    }
    const idx = await readArchiveIndex(gen());
    expect(idx.blocks).toEqual(parse(piped).blocks);
  });

  it('rejects a truncated archive, garbage and a wrong magic with IntegrityErrorArchiveMalformed', () => {
    const idx = parse(piped);
    for (const cut of [3, 20, idx.tocEndOffset - 1, idx.blocks[0]!.offset + 10, piped.length - 1]) {
      expect(() => parse(piped.subarray(0, cut)), `cut at ${cut}`).toThrow(IntegrityErrorArchiveMalformed);
    }
    expect(() => parse(Buffer.from('not an archive at all'))).toThrow(/PGDMP/);
    const badBlock = Buffer.from(piped);
    badBlock[idx.tocEndOffset] = 9;
    expect(() => parse(badBlock)).toThrow(/unknown data block type 9/);
  });
});
