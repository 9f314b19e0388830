/** Re-blocking on real archives written by pg_dump 15 through a pipe: pg_restore reading the re-blocked stream
 *  produces the same script as from the original, table data arrives in few large chunks instead of one per
 *  row, large objects pass unchanged, the output does not depend on how the input is split, and a cut archive
 *  is an error. copyDataMessages turns the table-data blocks into CopyData messages whose rows are exactly what
 *  pg_restore would send. */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type PgCluster } from '../../../test/support/index.ts';
import { ArchiveReader, copyDataMessages, IntegrityErrorArchiveMalformed, readArchiveIndex, reblockArchive, type CopyDataEvent, type DataBlock } from './index.ts';

let cluster: PgCluster;
let archive: Buffer;
let tocEndOffset: number;
let blocks: DataBlock[];
let names: Map<number, string>;

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  await cluster.createDatabase('rb');
  await cluster.query(
    `CREATE TABLE items (id int PRIMARY KEY, name text, tags jsonb);
     INSERT INTO items SELECT g, 'item ' || g, jsonb_build_object('g', g) FROM generate_series(1, 3000) g;
     CREATE TABLE wide (id int, b bytea);
     INSERT INTO wide SELECT g, decode(repeat(md5(g::text), 2000), 'hex') FROM generate_series(1, 20) g;
     CREATE TABLE empty_table (x int);
     SELECT lo_from_bytea(0, decode(repeat('cafe', 40000), 'hex'));`,
    [],
    'rb',
  );
  const r = spawnSync('pg_dump', ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.superuser, '-Fc', '-Z0', 'rb'], {
    env: { ...process.env, PGPASSWORD: cluster.password },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr.toString()}`);
  archive = r.stdout;
  const index = await readArchiveIndex([archive]);
  tocEndOffset = index.tocEndOffset;
  blocks = index.blocks;
  names = new Map(index.toc.map((e) => [e.dumpId, `${e.namespace}.${e.tag}`]));
});

afterAll(async () => {
  await cluster?.stop();
});

async function reblock(bytes: Buffer, pieces: number[] = [bytes.length], targetBytes?: number): Promise<Buffer> {
  async function* split(): AsyncGenerator<Buffer> {
    let at = 0;
    let k = 0;
    while (at < bytes.length) {
      const n = Math.max(1, pieces[k++ % pieces.length]!);
      yield bytes.subarray(at, at + n);
      at += n;
    }
  }
  const out: Buffer[] = [];
  for await (const b of reblockArchive(split(), { tocEndOffset, intSize: 4, ...(targetBytes ? { targetBytes } : {}) })) out.push(Buffer.from(b));
  return Buffer.concat(out);
}

/** What pg_restore makes of an archive read from stdin, without the per-run \restrict key. */
function script(bytes: Buffer): string {
  const r = spawnSync('pg_restore', ['-f', '-'], { input: bytes, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`pg_restore failed: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8').replace(/^\\(un)?restrict .*$/gm, '');
}

/** Data chunks per dump id, as the archive reader sees them. */
function chunksPerEntry(bytes: Buffer): Map<number, number> {
  const n = new Map<number, number>();
  const reader = new ArchiveReader({ onData: (id) => n.set(id, (n.get(id) ?? 0) + 1) });
  reader.write(bytes);
  reader.end();
  return n;
}

describe('reblockArchive', () => {
  it('gives pg_restore the same script, with table data in a few chunks instead of one per row', async () => {
    const out = await reblock(archive);
    expect(script(out)).toBe(script(archive));
    const before = chunksPerEntry(archive);
    const after = chunksPerEntry(out);
    const items = Math.max(...before.values());
    expect(items).toBeGreaterThanOrEqual(3000); // a chunk per row (and the large object's)
    expect(Math.max(...after.values())).toBeLessThanOrEqual(5);
    expect(out.length).toBeLessThan(archive.length); // the per-row chunk headers are gone
    expect(out.subarray(0, tocEndOffset)).toEqual(archive.subarray(0, tocEndOffset));
  });

  it('splits rows larger than the target across chunks and still restores the same', async () => {
    const out = await reblock(archive, undefined, 1000);
    expect(script(out)).toBe(script(archive));
  });

  it('does not depend on how the input is split', async () => {
    const whole = await reblock(archive);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }), async (pieces) => {
        expect((await reblock(archive, pieces)).equals(whole)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('lets the caller reuse a source buffer once it says so, and supply the data blocks, with the same output', async () => {
    const whole = await reblock(archive, [archive.length], 4096);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }), async (pieces) => {
        // Each piece is a buffer of its own (as the vault lends chunks); once reported consumed it is overwritten,
        // as a reused buffer would be: a read after that would change the output.
        const sources: Buffer[] = [];
        async function* split(): AsyncGenerator<Buffer> {
          for (let at = 0, k = 0; at < archive.length; ) {
            const n = pieces[k++ % pieces.length]!;
            const b = Buffer.from(archive.subarray(at, at + n));
            sources.push(b);
            yield b;
            at += n;
          }
        }
        const consumed = new Set<Buffer>();
        const spare: Buffer[] = [];
        let blocksMade = 0;
        const out: Buffer[] = [];
        const opts = {
          tocEndOffset,
          intSize: 4,
          targetBytes: 4096,
          consumed: (b: Buffer) => {
            expect(consumed.has(b)).toBe(false);
            consumed.add(b);
            b.fill(0xa5);
          },
          block: (bytes: number) => spare.pop() ?? (blocksMade++, Buffer.alloc(bytes)),
        };
        for await (const b of reblockArchive(split(), opts)) {
          out.push(Buffer.from(b));
          // A data block is written out at once here, so its buffer may take the next block.
          if (b.buffer.byteLength === 4096 + 5 && b.byteOffset === 0) spare.push(Buffer.from(b.buffer, 0, 4096 + 5));
        }
        expect(Buffer.concat(out).equals(whole)).toBe(true);
        expect(sources.every((b) => consumed.has(b))).toBe(true);
        expect(blocksMade).toBeLessThan(4);
      }),
      { numRuns: 20 },
    );
  });

  it('reports a cut archive as malformed', async () => {
    for (const cut of [tocEndOffset + 3, Math.floor(archive.length / 2), archive.length - 7]) {
      await expect(reblock(archive.subarray(0, cut))).rejects.toBeInstanceOf(IntegrityErrorArchiveMalformed);
    }
  });
});

describe('copyDataMessages', () => {
  /** The table-data blocks of the archive, as a data item of a parallel restore reads them (its blocks' ranges). */
  const tableData = (): Buffer => Buffer.concat(blocks.filter((b) => b.kind === 'data').map((b) => archive.subarray(b.offset, b.offset + b.lengthBytes)));

  async function messages(bytes: Buffer, pieces: number[] = [bytes.length], targetBytes?: number): Promise<CopyDataEvent[]> {
    async function* split(): AsyncGenerator<Buffer> {
      for (let at = 0, k = 0; at < bytes.length; ) {
        const n = Math.max(1, pieces[k++ % pieces.length]!);
        yield Buffer.from(bytes.subarray(at, at + n)); // each piece a buffer of its own, as the vault lends them
        at += n;
      }
    }
    const out: CopyDataEvent[] = [];
    for await (const e of copyDataMessages(split(), { intSize: 4, ...(targetBytes ? { targetBytes } : {}) })) {
      out.push(e.kind === 'data' ? { kind: 'data', message: Buffer.from(e.message) } : e);
    }
    return out;
  }

  /** Each table's rows as pg_restore prints them between its COPY and the end marker. */
  function rowsInScript(): Map<string, string> {
    const rows = new Map<string, string>();
    for (const m of script(archive).matchAll(/^COPY (\S+) .*FROM stdin;\n([\s\S]*?)^\\\.\n/gm)) rows.set(m[1]!, m[2]!);
    return rows;
  }

  it('yields the rows of each table as CopyData messages of at most the target size, the very bytes pg_restore sends', async () => {
    const events = await messages(tableData(), undefined, 4096);
    const rows = new Map<string, Buffer[]>();
    let table: string | undefined;
    for (const e of events) {
      if (e.kind === 'block') {
        expect(table).toBeUndefined();
        table = names.get(e.dumpId);
        rows.set(table!, []);
      } else if (e.kind === 'end') table = undefined;
      else {
        // Byte1('d'), Int32 length counting itself, then the rows.
        expect(e.message[0]).toBe(0x64);
        expect(e.message.readUInt32BE(1)).toBe(e.message.length - 1);
        expect(e.message.length).toBeLessThanOrEqual(5 + 4096);
        expect(e.message.length).toBeGreaterThan(5);
        rows.get(table!)!.push(e.message.subarray(5));
      }
    }
    expect(table).toBeUndefined();
    const expected = rowsInScript();
    expect([...rows.keys()].sort()).toEqual(['public.empty_table', 'public.items', 'public.wide']);
    // pg_dump ends each table's data with the end marker and two empty lines; pg_restore sends them too.
    for (const [name, parts] of rows) expect(Buffer.concat(parts).toString('utf8')).toBe(`${expected.get(name) ?? ''}\\.\n\n\n`);
    // The 3000 rows of items travel in a few messages, not one per row.
    expect(rows.get('public.items')!.length).toBeLessThan(40);
  });

  it('does not depend on how the input is split', async () => {
    const flat = (events: CopyDataEvent[]): Buffer =>
      Buffer.concat(events.map((e) => (e.kind === 'data' ? e.message : Buffer.from(e.kind === 'block' ? `[block ${e.dumpId}]` : '[end]'))));
    const whole = flat(await messages(tableData()));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }), async (pieces) => {
        expect(flat(await messages(tableData(), pieces)).equals(whole)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('refuses a large-object block, and reports a cut block as malformed', async () => {
    const blob = blocks.find((b) => b.kind === 'blobs')!;
    await expect(messages(archive.subarray(blob.offset, blob.offset + blob.lengthBytes))).rejects.toThrow(/large-object block/);
    const data = tableData();
    for (const cut of [3, Math.floor(data.length / 2), data.length - 2]) {
      await expect(messages(data.subarray(0, cut))).rejects.toBeInstanceOf(IntegrityErrorArchiveMalformed);
    }
  });
});
