/** truncateBeforeCopy on real archives written by pg_dump 15 through a pipe: pg_restore reads the edited TOC, runs
 *  each chosen COPY, with FREEZE, after a TRUNCATE of its own table, in one transaction (a wal_level = minimal server
 *  then writes almost no WAL for the load), and restores the same rows, already frozen: a first scan dirties no
 *  page; entries not chosen, copies into a partition root and anything it cannot parse keep their bytes. */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type PgCluster } from '../../../test/support/index.ts';
import { ArchiveReader, copyTarget, truncateBeforeCopy, type TocEntry } from './index.ts';

let cluster: PgCluster;

beforeAll(async () => {
  // No autovacuum: it would set the hint bits that the tests below expect a first scan to find unset.
  cluster = await startCluster({ major: 15, settings: { autovacuum: 'off' } });
  await cluster.createDatabase('src');
  await cluster.query(
    `CREATE TABLE big (id int PRIMARY KEY, pad text);
     INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g;
     CREATE SCHEMA "Straße & Co";
     CREATE TABLE "Straße & Co"."Kunden ""Liste""" ("Nr" int, "Größe" text);
     INSERT INTO "Straße & Co"."Kunden ""Liste""" SELECT g, 'größe ' || g FROM generate_series(1, 50) g;
     CREATE TABLE parent (id int, note text);
     CREATE TABLE child (extra int) INHERITS (parent);
     INSERT INTO parent VALUES (1, 'p');
     INSERT INTO child VALUES (2, 'c', 7);
     CREATE TABLE measures (at date NOT NULL, v int) PARTITION BY RANGE (at);
     CREATE TABLE measures_2025 PARTITION OF measures FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
     CREATE TABLE measures_2026 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
     INSERT INTO measures SELECT '2025-06-01'::date + g, g FROM generate_series(1, 400) g;`,
    [],
    'src',
  );
});

afterAll(async () => {
  await cluster?.stop();
});

function dump(...extra: string[]): Buffer {
  const r = spawnSync('pg_dump', ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.superuser, '-Fc', '-Z0', ...extra, 'src'], {
    env: { ...process.env, PGPASSWORD: cluster.password },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr.toString()}`);
  return r.stdout;
}

function parse(archive: Buffer): { toc: TocEntry[]; tocEnd: number } {
  const reader = new ArchiveReader();
  reader.write(archive);
  reader.end();
  return { toc: [...reader.toc], tocEnd: reader.tocEndOffset };
}

function edit(archive: Buffer, pick: (e: TocEntry) => boolean = (e) => e.desc === 'TABLE DATA'): { bytes: Buffer; rewritten: number[]; toc: TocEntry[] } {
  const { toc, tocEnd } = parse(archive);
  const r = truncateBeforeCopy(archive.subarray(0, tocEnd), toc, new Set(toc.filter(pick).map((e) => e.dumpId)));
  return { bytes: Buffer.concat([r.bytes, archive.subarray(tocEnd)]), rewritten: r.rewritten, toc };
}

function pgRestore(args: string[], input: Buffer): string {
  const r = spawnSync('pg_restore', args, { input, env: { ...process.env, PGPASSWORD: cluster.password }, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`pg_restore failed: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8').replace(/^\\(un)?restrict .*$/gm, '');
}

const connArgs = (db: string): string[] => ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.superuser, '-d', db];

describe('truncateBeforeCopy', () => {
  it('puts a TRUNCATE of its own table before every chosen COPY and makes that COPY FREEZE; nothing else changes in the script', () => {
    const archive = dump();
    const edited = edit(archive);
    const tableData = edited.toc.filter((e) => e.desc === 'TABLE DATA').map((e) => e.dumpId);
    expect(edited.rewritten.sort((a, b) => a - b)).toEqual(tableData.sort((a, b) => a - b));
    expect(tableData.length).toBe(6); // big, Kunden "Liste", parent, child, both partitions; none for the root
    const before = pgRestore(['-f', '-'], archive);
    const after = pgRestore(['-f', '-'], edited.bytes);
    const copies = [...before.matchAll(/^COPY (.+?) (\(|FROM)/gm)].map((m) => m[1]!);
    expect(copies).toContain('"Straße & Co"."Kunden ""Liste"""');
    expect(copies).toHaveLength(6);
    const expected = before.replace(/^COPY (.+?) ((?:\(.*\) )?)FROM stdin;$/gm, (_, name: string, cols: string) => `TRUNCATE TABLE ONLY ${name};\nCOPY ${name} ${cols}FROM stdin WITH (FREEZE);`);
    expect(expected.match(/WITH \(FREEZE\)/g)).toHaveLength(6);
    expect(after).toBe(expected);
  });

  it('leaves entries that were not chosen byte for byte', () => {
    const archive = dump();
    const none = edit(archive, () => false);
    expect(none.rewritten).toEqual([]);
    expect(none.bytes.equals(archive)).toBe(true);
    const onlyBig = edit(archive, (e) => e.desc === 'TABLE DATA' && e.tag === 'big');
    expect(onlyBig.rewritten).toHaveLength(1);
    const script = pgRestore(['-f', '-'], onlyBig.bytes);
    expect(script.match(/^TRUNCATE TABLE ONLY/gm)).toEqual(['TRUNCATE TABLE ONLY']);
    expect(script.match(/FROM stdin WITH \(FREEZE\);$/gm)).toHaveLength(1);
    expect(script).toContain('TRUNCATE TABLE ONLY public.big;\nCOPY public.big (id, pad) FROM stdin WITH (FREEZE);\n');
  });

  it('restores the same rows, frozen, and the load of a new table writes almost no WAL on a wal_level = minimal server', async () => {
    const archive = dump();
    const edited = edit(archive);
    const walOf = async (bytes: Buffer, db: string): Promise<number> => {
      await cluster.createDatabase(db);
      pgRestore([...connArgs(db), '--section=pre-data'], bytes);
      const start = (await cluster.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn;
      pgRestore([...connArgs(db), '--section=data'], bytes);
      const wal = (await cluster.query<{ bytes: string }>(`SELECT pg_current_wal_insert_lsn() - $1::pg_lsn AS bytes`, [start]))[0]!.bytes;
      return Number(wal);
    };
    expect((await cluster.query<{ wal_level: string }>('SHOW wal_level'))[0]!.wal_level).toBe('minimal');
    const walPlain = await walOf(archive, 'plain');
    const walEdited = await walOf(edited.bytes, 'edited');
    // ~9 MB of rows: logged in full without the TRUNCATE, only the commit records and small tables' pages with it.
    expect(walPlain).toBeGreaterThan(8_000_000);
    expect(walEdited).toBeLessThan(walPlain / 4);
    // The first scan of a table loaded without FREEZE sets the hint bit of every row and so dirties every page; after
    // the frozen load it dirties none (what the index builds and key checks of a restore would otherwise rewrite).
    const dirtiedByFirstScan = async (db: string): Promise<number> => {
      const [plan] = await cluster.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Dirtied Blocks': number } }] }>(
        'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT count(*) FROM big',
        [],
        db,
      );
      return plan!['QUERY PLAN'][0].Plan['Shared Dirtied Blocks'];
    };
    const [{ pages }] = (await cluster.query<{ pages: string }>(`SELECT pg_relation_size('big') / 8192 AS pages`, [], 'plain')) as [{ pages: string }];
    expect(Number(pages)).toBeGreaterThan(900);
    // (a hint bit waits for the commit record to be flushed, synchronous_commit being off: "most", not "all")
    expect(await dirtiedByFirstScan('plain')).toBeGreaterThan(Number(pages) / 2);
    expect(await dirtiedByFirstScan('edited')).toBe(0);
    const frozen = async (db: string): Promise<{ frozen: string; rows: string; allFrozenPages: string; pages: string }> => {
      await cluster.query('CREATE EXTENSION IF NOT EXISTS pageinspect; CREATE EXTENSION IF NOT EXISTS pg_visibility', [], db);
      const [r] = await cluster.query<{ frozen: string; rows: string; allFrozenPages: string; pages: string }>(
        `SELECT count(*) FILTER (WHERE t_infomask & 768 = 768)::text AS frozen, count(*)::text AS rows,
                (SELECT all_frozen::text FROM pg_visibility_map_summary('big')) AS "allFrozenPages",
                (pg_relation_size('big') / 8192)::text AS pages
         FROM generate_series(0, pg_relation_size('big') / 8192 - 1) p, heap_page_items(get_raw_page('big', p::int))
         WHERE lp_flags = 1`,
        [],
        db,
      );
      return r!;
    };
    // HEAP_XMIN_FROZEN on every row, and every page all-frozen in the visibility map (PostgreSQL 14 and later).
    expect(await frozen('edited')).toEqual({ frozen: '60000', rows: '60000', allFrozenPages: pages, pages });
    expect(await frozen('plain')).toMatchObject({ frozen: '0', rows: '60000', allFrozenPages: '0' });
    const rows = async (db: string): Promise<unknown[]> =>
      cluster.query(
        `SELECT (SELECT md5(string_agg(id || pad, ',' ORDER BY id)) FROM big) AS big,
                (SELECT count(*) FROM ONLY parent) AS parent, (SELECT count(*) FROM child) AS child,
                (SELECT sum(v) FROM measures) AS measures, (SELECT string_agg("Größe", ',' ORDER BY "Nr") FROM "Straße & Co"."Kunden ""Liste""") AS quoted`,
        [],
        db,
      );
    const source = await rows('src');
    expect(await rows('edited')).toEqual(source);
    expect(await rows('plain')).toEqual(source);
    expect((source[0] as { parent: string }).parent).toBe('1');
  });

  it('leaves a COPY into the partition root (--load-via-partition-root) alone: a TRUNCATE there would fail or empty other partitions', () => {
    const archive = dump('--load-via-partition-root');
    const edited = edit(archive);
    const partitions = edited.toc.filter((e) => e.desc === 'TABLE DATA' && e.tag?.startsWith('measures_')).map((e) => e.dumpId);
    expect(partitions).toHaveLength(2);
    for (const id of partitions) expect(edited.rewritten).not.toContain(id);
    expect(edited.rewritten).toHaveLength(4); // big, Kunden "Liste", parent, child
    const script = pgRestore(['-f', '-'], edited.bytes);
    expect(script).not.toMatch(/TRUNCATE TABLE ONLY public\.measures/);
  });

  it('refuses bytes that are not exactly a header and TOC', () => {
    const archive = dump();
    const { toc, tocEnd } = parse(archive);
    expect(() => truncateBeforeCopy(archive.subarray(0, tocEnd + 10), toc, new Set())).toThrow(/exactly the header and TOC/);
  });
});

describe('copyTarget', () => {
  it('reads the table of pg_dump copy statements and nothing else', () => {
    expect(copyTarget('COPY public.big (id, pad) FROM stdin;\n')).toEqual({ text: 'public.big', schema: 'public', table: 'big' });
    expect(copyTarget('COPY public.t FROM stdin;\n')).toEqual({ text: 'public.t', schema: 'public', table: 't' });
    expect(copyTarget('COPY "A b"."x ""y"" (z)" (c) FROM stdin;\n')).toEqual({ text: '"A b"."x ""y"" (z)"', schema: 'A b', table: 'x "y" (z)' });
    expect(copyTarget('COPY big (id) FROM stdin;\n')).toBeUndefined(); // unqualified (pg_dump before 9.x schemas)
    expect(copyTarget('COPY public."unterminated (id) FROM stdin;\n')).toBeUndefined();
    expect(copyTarget('COPY public.t TO stdout;\n')).toBeUndefined();
    expect(copyTarget('INSERT INTO public.t VALUES (1);\n')).toBeUndefined();
    expect(copyTarget('COPY Public.T (a) FROM stdin;\n')).toBeUndefined(); // pg_dump quotes upper case
  });
});
