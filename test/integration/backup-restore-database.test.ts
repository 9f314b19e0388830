/** Database backup and restore against real servers: pg_dump 15 of a PostgreSQL 15 database streamed into a
 *  filesystem vault (no temp file), failures that leave no manifest (pg_dump error, cancellation, a connection
 *  cut mid-dump), restore into PostgreSQL 17 as a CREATEDB role (serial, parallel without spool, spooled),
 *  missing roles reported, replacement only when asked, restore as files byte-identical and restorable with
 *  plain pg_restore, and item-level restore of chosen tables and schemas. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityErrorArchiveMalformed, discoverClients, parsePgUrl, type PgClientSet, type PgConnectionConfig } from '../../src/postgres/index.ts';
import {
  UserErrorTargetDatabaseExists,
  UserErrorTargetTablespaceMissing,
  dumpFileName,
  entryNames,
  runBackup,
  runRestore,
  runRestoreFiles,
  type BackupResult,
} from '../../src/operations/index.ts';
import { FilesystemBackend, MemoryBackend, parseStorageKey } from '../../src/storage/index.ts';
import { FaultyBackend } from '../../src/storage/decorators/faulty-backend.ts';
import { Vault, type ManifestId } from '../../src/vault/index.ts';
import { giveToServerUser, startCluster, type PgCluster } from '../support/index.ts';

let src: PgCluster;
let dst: PgCluster;
let work: string;
let vaultDir: string;
let vault: Vault;
let clients: PgClientSet;
let srcCfg: PgConnectionConfig;
let dstCfg: PgConnectionConfig;
let backup: BackupResult;

const kdf = { N: 1 << 10, r: 8, p: 1 };

/** A deterministic summary of a database's user tables: name → row count and md5 of all rows in key order. */
async function summary(cluster: PgCluster, db: string): Promise<Record<string, string>> {
  const tables = await cluster.query<{ t: string }>(
    `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema') ORDER BY 1`,
    [],
    db,
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [r] = await cluster.query<{ n: string; h: string }>(`SELECT count(*)::text AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM ${t} x`, [], db);
    out[t] = `${r!.n}:${r!.h}`;
  }
  const idx = await cluster.query<{ i: string }>(`SELECT indexdef AS i FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog') ORDER BY 1`, [], db);
  out.indexes = idx.map((r) => r.i).join('\n');
  const seq = await cluster.query<{ s: string }>(`SELECT string_agg(format('%s=%s', sequencename, last_value), ',' ORDER BY sequencename) AS s FROM pg_sequences`, [], db);
  out.sequences = seq[0]?.s ?? '';
  return out;
}

beforeAll(async () => {
  [src, dst] = await Promise.all([startCluster({ major: 15 }), startCluster({ major: 17 })]);
  work = mkdtempSync(join(tmpdir(), 'pgvault-br-db-'));
  vaultDir = join(work, 'vault');
  vault = await Vault.create(new FilesystemBackend(vaultDir), { passphrase: 'correct horse battery', kdf });
  clients = await discoverClients();
  await src.createRole('reader', 'reader-pw-1', 'LOGIN');
  await src.createDatabase('shopdb');
  await src.query(
    `CREATE SCHEMA shop;
     CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
     CREATE TABLE shop.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES shop.customers(id), total numeric(12,2), placed timestamptz, doc jsonb, raw bytea);
     CREATE INDEX orders_placed ON shop.orders (placed);
     CREATE TABLE public.notes (id int PRIMARY KEY, body text);
     CREATE TABLE public.big (id int, filler text);
     -- Keys within its schema and to another: a restore of the shop schema alone keeps the first, leaves out the second.
     CREATE TABLE shop.order_notes (order_id bigint NOT NULL REFERENCES shop.orders(id), note_id int REFERENCES public.notes(id));
     INSERT INTO shop.customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 500) g;
     INSERT INTO shop.orders (customer_id, total, placed, doc, raw)
       SELECT 1 + g % 500, g * 0.37, timestamptz '2026-01-01' + g * interval '1 minute', jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 7)), decode(md5(g::text), 'hex')
       FROM generate_series(1, 5000) g;
     INSERT INTO public.notes SELECT g, repeat('note ', g % 20) FROM generate_series(1, 300) g;
     INSERT INTO shop.order_notes SELECT g, g % 300 + 1 FROM generate_series(1, 200) g;
     INSERT INTO public.big SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 3) FROM generate_series(1, 150000) g;
     -- ~21 MB: its own data item in a parallel restore, and a post item (a key and a two-column index) built once it is in.
     ALTER TABLE public.big ADD CONSTRAINT big_pkey PRIMARY KEY (id);
     CREATE INDEX big_id_filler ON public.big (id, left(filler, 8));
     -- An index whose build says, once, how many parallel workers its session allows (a WARNING: restores send
     -- client_min_messages = warning).
     CREATE FUNCTION public.build_probe(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $f$
       BEGIN
         IF i = 1 THEN RAISE WARNING 'index build: max_parallel_maintenance_workers = %', current_setting('max_parallel_maintenance_workers'); END IF;
         RETURN i;
       END $f$;
     CREATE INDEX notes_probe ON public.notes (public.build_probe(id));
     GRANT USAGE ON SCHEMA shop TO reader;
     GRANT SELECT ON shop.orders TO reader;
     COMMENT ON TABLE shop.orders IS 'orders placed';`,
    [],
    'shopdb',
  );
  await dst.createRole('restorer', 'restorer-pw-1', 'LOGIN CREATEDB');
  srcCfg = parsePgUrl(src.url('shopdb'));
  dstCfg = parsePgUrl(dst.url('postgres', 'restorer', 'restorer-pw-1'));
});

afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await vault?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('runBackup', () => {
  it('streams pg_dump into the vault with no temp file, recording the archive SHA-256 and index', async () => {
    // A private TMPDIR for the run (os.tmpdir() reads it at each call): other test files create temp dirs too.
    const privateTmp = mkdtempSync(join(work, 'tmp-'));
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    const openFiles = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const fd of readdirSync('/proc/self/fd')) {
          try {
            const target = readlinkSync(`/proc/self/fd/${fd}`);
            if (target.startsWith('/')) openFiles.add(target);
          } catch {
            // closed meanwhile
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const progress: number[] = [];
    try {
      backup = await runBackup(vault, srcCfg, { database: 'shopdb', clients, onProgress: (p) => progress.push(p.bytesDumped) });
    } finally {
      watching = false;
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    await watcher;
    // This process opened no file outside the vault while the dump streamed (the private password file aside),
    // and nothing was left behind in its temp dir. (The checkout's own files, such as a module loaded meanwhile, are
    // no temp files, also where the checkout itself lies under /tmp, as a fresh CI clone may.)
    const repo = join(import.meta.dirname, '..', '..');
    const foreign = [...openFiles].filter(
      (f) => !f.startsWith(vaultDir) && !f.startsWith(`${repo}/`) && (f.startsWith(privateTmp) || f.startsWith(tmpdir())) && !/pgvault-pgpass-/.test(f),
    );
    expect(foreign).toEqual([]);
    expect(readdirSync(privateTmp)).toEqual([]);
    for (const f of readdirSync(vaultDir, { recursive: true }) as string[]) {
      expect(f, 'only vault objects in the vault dir').toMatch(/^(config|keys|data|index|manifests|plans|locks|snapshots|prune)(\/|$)/);
    }
    expect(progress.length).toBeGreaterThan(0);

    expect(backup.bytesDumped).toBeGreaterThan(10_000_000);
    expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(backup.pgDumpVersion).toMatch(/^15\./);
    const m = await vault.readManifest(backup.manifest.id as ManifestId);
    expect(m.meta).toMatchObject({ kind: 'database', databases: ['shopdb'] });
    expect(m.entries.map((e) => e.name).sort()).toEqual([entryNames.archive('shopdb'), entryNames.index('shopdb')].sort());
    const index = JSON.parse(readAllSync(await collect(vault.load(backup.manifest.id as ManifestId, entryNames.index('shopdb')))));
    expect(index.totalBytes).toBe(backup.bytesDumped);
    expect(index.blocks.length).toBeGreaterThanOrEqual(4);
    // The archive read back hashes to the recorded SHA-256.
    const bytes = await collect(vault.load(backup.manifest.id as ManifestId, entryNames.archive('shopdb')));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(backup.sha256);
  });

  it('leaves no manifest when pg_dump fails (a table the role may not read)', async () => {
    await src.createRole('weak', 'weak-pw-1234', 'LOGIN');
    await src.query('GRANT CONNECT ON DATABASE shopdb TO weak; GRANT USAGE ON SCHEMA shop TO weak; GRANT SELECT ON ALL TABLES IN SCHEMA public TO weak', [], 'shopdb');
    const before = await vault.listManifests();
    const err = await runBackup(vault, parsePgUrl(src.url('shopdb', 'weak', 'weak-pw-1234')), { database: 'shopdb', clients }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UserErrorMissingDBPermissions');
    expect(String((err as Error).message)).toMatch(/weak/);
    expect(await vault.listManifests()).toEqual(before);
  });

  it('leaves no manifest when cancelled mid-dump', async () => {
    const before = await vault.listManifests();
    const ac = new AbortController();
    const err = await runBackup(vault, srcCfg, {
      database: 'shopdb',
      clients,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.bytesDumped > 0) ac.abort(new Error('stop'));
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await vault.listManifests()).toEqual(before);
  });

  it('leaves no manifest when the server connection is cut mid-dump', async () => {
    // A vault on slow storage keeps pg_dump inside its COPY (backpressure) while its connection is terminated.
    const slow = new FaultyBackend(new FilesystemBackend(join(work, 'slow-vault')));
    const slowVault = await Vault.create(slow, { passphrase: 'correct horse battery', kdf, tuning: { packTargetBytes: 1 << 20, maxPackUploads: 1, maxInflightChunks: 1 } });
    slow.inject({ verb: 'put', key: 'data/', fault: { kind: 'delay', delayMs: 300 }, times: Infinity });
    let killed = false;
    const err = await runBackup(slowVault, srcCfg, {
      database: 'shopdb',
      clients,
      onProgress: () => {
        if (killed) return;
        killed = true;
        void src.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_dump' OR query LIKE 'COPY %'`, [], 'postgres');
      },
    }).catch((e: unknown) => e);
    expect(killed).toBe(true);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code, String(err)).toBe('TransientErrorConnectionLost');
    expect(await slowVault.listManifests()).toEqual([]);
    await slowVault.close();
  });
});

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
function readAllSync(b: Buffer): string {
  return b.toString('utf8');
}

describe('runRestore into a newer major as a CREATEDB role', () => {
  let expected: Record<string, string>;
  beforeAll(async () => {
    expected = await summary(src, 'shopdb');
  });

  it('restores serially, streaming from the vault, and reports the missing role and its skipped ACL', async () => {
    const report = await runRestore(vault, backup.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: 'serial', clients });
    expect(report.mode).toBe('serial');
    expect(report.missingRoles).toEqual(['reader']);
    expect(report.skippedAcls.some((s) => s.desc === 'ACL' && s.tag === 'TABLE orders' && s.missingRoles.includes('reader'))).toBe(true);
    expect(report.ownersKept).toBe(false);
    expect(await summary(dst, 'serial')).toEqual(expected);
    const [owner] = await dst.query<{ o: string }>(`SELECT tableowner AS o FROM pg_tables WHERE tablename = 'orders'`, [], 'serial');
    expect(owner!.o).toBe('restorer');
  });

  it('restores with -j2 without a spool file: partial archives per worker, TOC-only file for post-data', async () => {
    // Connections to the new database, sampled while it restores: never more than pg_restore -j2 holds (3).
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [r] = await dst.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'parallel'`);
        peak = Math.max(peak, r!.n);
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const report = await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase: 'parallel', jobs: 2, clients }).finally(() => (sampling = false));
    await sampler;
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(peak).toBeLessThanOrEqual(3);
    expect(report.mode).toBe('parallel');
    expect(await summary(dst, 'parallel')).toEqual(expected);
    // Its post item ran as SQL over a worker's session, not as one more pg_restore run; no session stays open.
    expect(report.log).toContain('pgvault: creating INDEX "public.big_id_filler"');
    // Without parallel workers of their own: the two jobs already keep the cores busy.
    expect(report.log).toContain('pgvault: WARNING:  index build: max_parallel_maintenance_workers = 0');
    // So did the loads (COPY with the archive's rows as they are) and the sequence values: no pg_restore ran for data.
    expect(report.log).toContain('pgvault: processing data for table "public.big"');
    expect(report.log).toContain('pgvault: processing data for table "shop.orders"');
    expect(report.log.some((l) => l.startsWith('pgvault: executing SEQUENCE SET'))).toBe(true);
    expect(report.log.filter((l) => /^pg_restore: (processing data for table|executing SEQUENCE SET)/.test(l))).toEqual([]);
    // Each load emptied the table it had just created in the same transaction, so its rows went in frozen.
    await dst.query('CREATE EXTENSION IF NOT EXISTS pg_visibility', [], 'parallel');
    const [vm] = await dst.query<{ all_frozen: string; pages: string }>(
      `SELECT (SELECT all_frozen FROM pg_visibility_map_summary('public.big'))::text AS all_frozen, (pg_relation_size('public.big') / 8192)::text AS pages`,
      [],
      'parallel',
    );
    // (a COPY FREEZE marks a page all-frozen when it filled it from empty: the page where one batch of rows ends and
    // the next begins is not marked; without FREEZE none would be, no VACUUM having run)
    expect(Number(vm!.pages)).toBeGreaterThan(100);
    expect(Number(vm!.all_frozen)).toBeGreaterThan(Number(vm!.pages) * 0.9);
    // So did the foreign key, once both tables were in and the key it references built (not in the final pg_restore).
    const fkAt = report.log.indexOf('pgvault: creating FK CONSTRAINT "shop.orders orders_customer_id_fkey"');
    expect(fkAt).toBeGreaterThanOrEqual(0);
    const keyAt = report.log.findIndex((l) => l.includes('CONSTRAINT "shop.customers customers_pkey"'));
    expect(keyAt).toBeGreaterThanOrEqual(0);
    expect(fkAt).toBeGreaterThan(keyAt);
    expect(
      await dst.query(`SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' AND conrelid = 'shop.orders'::regclass`, [], 'parallel'),
    ).toEqual([{ conname: 'orders_customer_id_fkey', convalidated: true }]);
    const left = async (): Promise<number> => (await dst.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'parallel'`))[0]!.n;
    for (let i = 0; i < 100 && (await left()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await left()).toBe(0);
    // The big table (its own data item) gets its key and two-column index from its post item: both there and valid.
    const idx = await dst.query<{ indexname: string; valid: boolean }>(
      `SELECT c.relname AS indexname, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.big'::regclass ORDER BY 1`,
      [],
      'parallel',
    );
    expect(idx).toEqual([
      { indexname: 'big_id_filler', valid: true },
      { indexname: 'big_pkey', valid: true },
    ]);
  });

  it('restores from a spool file with plain pg_restore -j2 when asked', async () => {
    const report = await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase: 'spooled', jobs: 2, spool: true, clients });
    expect(report.mode).toBe('spool');
    expect(await summary(dst, 'spooled')).toEqual(expected);
  });

  it('refuses an existing target database unless replacement is asked', async () => {
    const err = await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase: 'serial', clients }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorTargetDatabaseExists);
    expect((err as UserErrorTargetDatabaseExists).hint).toMatch(/replace/);
    await dst.query('CREATE TABLE stray (x int)', [], 'serial');
    await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase: 'serial', replace: true, jobs: 2, clients });
    expect(await summary(dst, 'serial')).toEqual(expected);
  });

  it('checks the selection before it touches the target: a bad table name neither drops the database to replace nor creates one', async () => {
    await dst.query('CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (42)', [], 'serial');
    for (const newDatabase of ['serial', 'never_created']) {
      const err = await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase, replace: true, tables: ['shop.nope'], clients }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('UserErrorInvalidInput');
      expect((err as { hint?: string }).hint).toMatch(/schema\.table/);
    }
    expect(await dst.query('SELECT x FROM keepme', [], 'serial')).toEqual([{ x: 42 }]);
    expect(await dst.query(`SELECT 1 FROM pg_database WHERE datname = 'never_created'`)).toEqual([]);
  });

  it('drops the database it created when the restore fails, and says why', async () => {
    const ac = new AbortController();
    const err = await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, {
      newDatabase: 'cancelled',
      jobs: 2,
      clients,
      signal: ac.signal,
      onProgress: () => ac.abort(new Error('stop')),
    }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UserErrorPgToolCancelled');
    expect(await dst.query(`SELECT 1 FROM pg_database WHERE datname = 'cancelled'`)).toEqual([]);
  });

  it('fails with the integrity error of a damaged chunk met mid-restore, serially and with -j2, and drops the database', async () => {
    for (const jobs of [1, 2]) {
      const faulty = new FaultyBackend(new FilesystemBackend(vaultDir));
      const damaged = await Vault.open(faulty, { passphrase: 'correct horse battery' });
      // Pack reads 1-2 are the archive index and the TOC; a later one is table data.
      faulty.inject({ verb: 'get', key: 'data/', nth: 6, fault: { kind: 'flip', atByte: 40, bit: 3 } });
      try {
        const err = await runRestore(damaged, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase: `damaged_${jobs}`, jobs, clients }).catch((e: unknown) => e);
        expect(faulty.fired).toBe(1);
        expect((err as { code?: string }).code).toBe('IntegrityErrorAuthenticationFailed');
        expect((err as { hint?: string }).hint).toBeTruthy();
        expect(await dst.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [`damaged_${jobs}`])).toEqual([]);
      } finally {
        await damaged.close();
      }
    }
  });

  it('restores chosen tables (with their sequences, indexes and constraints) into a new database', async () => {
    await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase: 'only_customers', tables: ['shop.customers'], jobs: 2, clients });
    const got = await summary(dst, 'only_customers');
    expect(Object.keys(got).filter((k) => k.includes('.'))).toEqual(['shop.customers']);
    expect(got['shop.customers']).toBe(expected['shop.customers']);
    expect(got.indexes).toContain('customers_email_key');
    expect(got.sequences).toContain('customers_id_seq=500');
  });

  it('restores a chosen schema', async () => {
    await runRestore(vault, backup.manifest.id as ManifestId, 'shopdb', dstCfg, { newDatabase: 'only_shop', schemas: ['shop'], clients });
    const got = await summary(dst, 'only_shop');
    expect(Object.keys(got).filter((k) => k.includes('.')).sort()).toEqual(['shop.customers', 'shop.order_notes', 'shop.orders']);
    expect(got['shop.orders']).toBe(expected['shop.orders']);
    expect(got['shop.order_notes']).toBe(expected['shop.order_notes']);
    // The keys within the schema are there; the one to public.notes, left out, is not (it would fail the restore).
    const fks = await dst.query<{ conname: string }>(`SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'shop'::regnamespace ORDER BY 1`, [], 'only_shop');
    expect(fks.map((r) => r.conname)).toEqual(['order_notes_order_id_fkey', 'orders_customer_id_fkey']);
  });
});

describe('awkward database names', () => {
  it('backs up a database named like a connection string from the configured host, and restores it under a name with quotes', async () => {
    const hostile = 'host=127.0.0.2 dbname=x';
    await src.createDatabase(hostile);
    await src.query(`CREATE TABLE marker (v text); INSERT INTO marker VALUES ('from the configured host')`, [], hostile);
    const b = await runBackup(vault, srcCfg, { database: hostile, clients });
    const m = await vault.readManifest(b.manifest.id as ManifestId);
    expect(m.entries.map((e) => e.name)).toContain(entryNames.archive(hostile));
    const target = 'we"ird \'db\' name';
    const report = await runRestore(vault, b.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: target, jobs: 2, clients });
    expect(report.sourceDatabase).toBe(hostile);
    expect(await dst.query<{ v: string }>('SELECT v FROM marker', [], target)).toEqual([{ v: 'from the configured host' }]);
    const files = await runRestoreFiles(vault, b.manifest.id as ManifestId, join(work, 'hostile-files'));
    expect(files[0]!.name).toBe('host%3D127.0.0.2%20dbname%3Dx.dump');
  });
});

describe('a database in another encoding than UTF8', () => {
  it('restores a LATIN1 database with -j2 byte for byte: names, rows and an index predicate with non-ASCII characters', async () => {
    await src.query(`CREATE DATABASE latin TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
    await src.query(
      `CREATE TABLE "Größe" (id int PRIMARY KEY, status text, note text);
       -- ~12 MB: a data item of its own, and a post item (its key and the partial index) once it is in.
       INSERT INTO "Größe" SELECT g, CASE WHEN g % 3 = 0 THEN 'gelöscht' ELSE 'aktiv' END, repeat('Grüße ', 12) || g FROM generate_series(1, 120000) g;
       CREATE INDEX "größe_gelöscht" ON "Größe" (id) WHERE status = 'gelöscht';
       -- A foreign key: its own post item, built by a pg_restore run here (no session for this encoding).
       CREATE TABLE "Maße" (id int PRIMARY KEY, "größe" int NOT NULL CONSTRAINT "maße_größe_fkey" REFERENCES "Größe"(id));
       INSERT INTO "Maße" SELECT g, g * 7 FROM generate_series(1, 5000) g;`,
      [],
      'latin',
    );
    const b = await runBackup(vault, srcCfg, { database: 'latin', clients });
    // pg_dump writes table names in the database's encoding: the job log reads them as such.
    expect(b.log).toContain('pg_dump: dumping contents of table "public.Größe"');
    const report = await runRestore(vault, b.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: 'latin_j2', jobs: 2, clients });
    expect(await dst.query(`SELECT pg_encoding_to_char(encoding) AS e FROM pg_database WHERE datname = 'latin_j2'`)).toEqual([{ e: 'LATIN1' }]);
    expect(await summary(dst, 'latin_j2')).toEqual(await summary(src, 'latin'));
    expect((await summary(dst, 'latin_j2')).indexes).toContain(`WHERE (status = 'gelöscht'::text)`);
    // The TOC is read as UTF-8 and node-postgres speaks UTF-8: the indexes were built by pg_restore, not by a session.
    expect(report.log.some((l) => l.startsWith('pgvault: creating'))).toBe(false);
    expect(report.log.some((l) => /^pg_restore: creating INDEX "public\.gr/.test(l))).toBe(true);
    // pg_restore writes the TOC's names in the archive's encoding: the job log reads them as such.
    expect(report.log).toContain('pg_restore: creating FK CONSTRAINT "public.Maße maße_größe_fkey"');
    expect(report.log.join('\n')).not.toContain('\uFFFD');
    expect(await dst.query(`SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f'`, [], 'latin_j2')).toEqual([{ conname: 'maße_größe_fkey', convalidated: true }]);

    // pg_dump writes in its client_encoding, which the connection options or the database's settings may make
    // another than the database's: its log is read in that one (from the options, then from the archive's TOC).
    const viaOptions = await runBackup(vault, { ...srcCfg, database: 'latin', options: { ...srcCfg.options, client_encoding: 'UTF8' } }, { database: 'latin', clients });
    expect(viaOptions.log).toContain('pg_dump: dumping contents of table "public.Größe"');
    await src.query(`ALTER DATABASE latin SET client_encoding = 'UTF8'`);
    try {
      const viaDatabase = await runBackup(vault, srcCfg, { database: 'latin', clients });
      expect(viaDatabase.log).toContain('pg_dump: dumping contents of table "public.Größe"');
      expect(viaDatabase.log.join('\n')).not.toMatch(/Ã|\uFFFD/);
    } finally {
      await src.query(`ALTER DATABASE latin RESET client_encoding`);
    }
  });
});

describe('an owner that revoked its own rights (an append-only ledger)', () => {
  it('restores with -j2 as that owner: grants and revokes apply after the data, as pg_restore applies them', async () => {
    await src.createRole('ledger', 'ledger-pw-1', 'LOGIN');
    await src.createRole('auditor', 'auditor-pw-1', 'LOGIN');
    await src.query(`CREATE DATABASE ledgerdb OWNER ledger`);
    await src.query(
      `SET ROLE ledger;
       CREATE TABLE entries (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, memo text);
       INSERT INTO entries SELECT g, g * 0.5, 'entry ' || g FROM generate_series(1, 20000) g;
       CREATE TABLE small_log (at int, what text);
       INSERT INTO small_log VALUES (1, 'opened');
       -- The owner keeps reading but may no longer add, change or empty its own rows.
       REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON entries, small_log FROM ledger;
       GRANT SELECT ON entries TO auditor;`,
      [],
      'ledgerdb',
    );
    await dst.createRole('ledger', 'ledger-pw-1', 'LOGIN CREATEDB');
    await dst.createRole('auditor', 'auditor-pw-1', 'LOGIN');
    const b = await runBackup(vault, srcCfg, { database: 'ledgerdb', clients });
    const asLedger = parsePgUrl(dst.url('postgres', 'ledger', 'ledger-pw-1'));
    const report = await runRestore(vault, b.manifest.id as ManifestId, undefined, asLedger, { newDatabase: 'ledger_j2', jobs: 2, clients });
    expect(report.mode).toBe('parallel');
    expect(await summary(dst, 'ledger_j2')).toEqual(await summary(src, 'ledgerdb'));
    const acls = (c: PgCluster, db: string): Promise<unknown[]> =>
      c.query(`SELECT relname, relacl::text FROM pg_class WHERE relname IN ('entries', 'small_log') ORDER BY 1`, [], db);
    expect(await acls(dst, 'ledger_j2')).toEqual(await acls(src, 'ledgerdb'));
    expect(JSON.stringify(await acls(dst, 'ledger_j2'))).toContain('auditor=r/ledger');
  });
});

describe('a parallel restore that fails while another worker still loads', () => {
  it('stops that load at once and fails with the first error (not hours later, when the load would end)', async () => {
    await src.createDatabase('stuck');
    await src.query(
      `-- An index whose expression refuses to run on the target (it depends on a setting only the source session had).
       CREATE FUNCTION picky(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
         BEGIN IF coalesce(current_setting('pgvault_test.allow', true), '') <> 'on' THEN RAISE EXCEPTION 'picky refuses to index here'; END IF; RETURN x; END $$;
       -- A check that takes half a second per row on the target: loading 200 rows would take 100 s.
       CREATE FUNCTION slow_ok(x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
         BEGIN IF coalesce(current_setting('pgvault_test.fast', true), '') <> 'on' THEN PERFORM pg_sleep(0.5); END IF; RETURN true; END $$;
       SET pgvault_test.allow = 'on';
       SET pgvault_test.fast = 'on';
       -- ~10 MB: a data item of its own, then a post item with the failing index.
       CREATE TABLE fast (id int, filler text);
       INSERT INTO fast SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 90000) g;
       CREATE INDEX fast_picky ON fast (picky(id));
       CREATE TABLE slow (id int CHECK (slow_ok(id)));
       INSERT INTO slow SELECT generate_series(1, 200);`,
      [],
      'stuck',
    );
    const b = await runBackup(vault, srcCfg, { database: 'stuck', clients });
    const t0 = Date.now();
    const err = await runRestore(vault, b.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: 'stuck_j2', jobs: 2, clients }).catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect((err as { code?: string }).code).toBe('UserErrorPgToolFailed');
    expect((err as Error).message).toContain('picky refuses to index here');
    expect(took).toBeLessThan(30_000); // the slow load alone needs 100 s
    expect(await dst.query(`SELECT 1 FROM pg_database WHERE datname = 'stuck_j2'`)).toEqual([]);
    expect(await dst.query(`SELECT pid FROM pg_stat_activity WHERE datname = 'stuck_j2'`)).toEqual([]);
  });
});

describe('a parallel restore whose load the target refuses', () => {
  it('fails with the server\'s error, the table and the row (coded), and drops the database', async () => {
    await src.createDatabase('refused');
    await src.query(
      `-- A check that refuses every row on the target (it depends on a setting only the source session had).
       CREATE FUNCTION strict_ok(x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
         BEGIN IF coalesce(current_setting('pgvault_test.allow', true), '') <> 'on' THEN RAISE EXCEPTION 'strict_ok refuses row %', x; END IF; RETURN true; END $$;
       SET pgvault_test.allow = 'on';
       CREATE TABLE guarded (id int CHECK (strict_ok(id)), filler text);
       INSERT INTO guarded SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 90000) g;
       CREATE TABLE other (id int PRIMARY KEY);
       INSERT INTO other SELECT generate_series(1, 1000);`,
      [],
      'refused',
    );
    const b = await runBackup(vault, srcCfg, { database: 'refused', clients });
    const err = await runRestore(vault, b.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: 'refused_j2', jobs: 2, clients }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UserErrorPgToolFailed');
    expect((err as Error).message).toContain('TABLE DATA "public.guarded"');
    expect((err as Error).message).toContain('strict_ok refuses row 1');
    const details = (err as { details?: { sqlstate?: string; errors?: string[] } }).details;
    expect(details?.sqlstate).toBe('P0001');
    expect(details?.errors?.some((l) => /^CONTEXT: .*COPY guarded, line 1\b/s.test(l))).toBe(true);
    expect(await dst.query(`SELECT 1 FROM pg_database WHERE datname = 'refused_j2'`)).toEqual([]);
    expect(await dst.query(`SELECT pid FROM pg_stat_activity WHERE datname = 'refused_j2'`)).toEqual([]);
  });
});

describe('a database with objects in its own tablespace', () => {
  it('is refused by a target without that tablespace (coded, nothing created), and restores with noTablespaces', async () => {
    const tsDir = mkdtempSync(join(tmpdir(), 'pgvault-ts-'));
    const dstTsDir = mkdtempSync(join(tmpdir(), 'pgvault-ts-dst-'));
    giveToServerUser(tsDir);
    giveToServerUser(dstTsDir);
    try {
      await src.query(`CREATE TABLESPACE fast_ssd LOCATION '${tsDir}'`);
      await src.createDatabase('spaced');
      await src.query(
        `CREATE TABLE hot (id int PRIMARY KEY USING INDEX TABLESPACE fast_ssd, v text) TABLESPACE fast_ssd;
         INSERT INTO hot SELECT g, md5(g::text) FROM generate_series(1, 90000) g;
         CREATE INDEX hot_v ON hot (v) TABLESPACE fast_ssd;
         CREATE TABLE cold (id int PRIMARY KEY, v text); INSERT INTO cold VALUES (1, 'x');`,
        [],
        'spaced',
      );
      const b = await runBackup(vault, srcCfg, { database: 'spaced', clients });
      const err = await runRestore(vault, b.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: 'spaced', jobs: 2, clients }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserErrorTargetTablespaceMissing);
      expect((err as UserErrorTargetTablespaceMissing).details).toEqual({ tablespaces: ['fast_ssd'] });
      expect((err as UserErrorTargetTablespaceMissing).hint).toContain('--no-tablespaces');
      expect(await dst.query(`SELECT 1 FROM pg_database WHERE datname = 'spaced'`)).toEqual([]);

      for (const jobs of [1, 2]) {
        const db = `spaced_${jobs}`;
        await runRestore(vault, b.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: db, jobs, noTablespaces: true, clients });
        expect(await summary(dst, db)).toEqual(await summary(src, 'spaced'));
        expect(await dst.query(`SELECT count(*)::int AS n FROM pg_class WHERE reltablespace <> 0 AND relname IN ('hot', 'hot_pkey', 'hot_v')`, [], db)).toEqual([{ n: 0 }]);
      }

      // A target that has the tablespace gets each object where the source had it: the table through pg_restore, its
      // key and index through a restore session's SET default_tablespace (-j2), the other table in the default.
      await dst.query(`CREATE TABLESPACE fast_ssd LOCATION '${dstTsDir}'`);
      await dst.query('GRANT CREATE ON TABLESPACE fast_ssd TO restorer');
      const report = await runRestore(vault, b.manifest.id as ManifestId, undefined, dstCfg, { newDatabase: 'spaced_there', jobs: 2, clients });
      expect(report.log.some((l) => l.startsWith('pgvault: creating INDEX "public.hot_v"'))).toBe(true);
      expect(await summary(dst, 'spaced_there')).toEqual(await summary(src, 'spaced'));
      const placed = `SELECT c.relname, coalesce(t.spcname, '-') AS ts FROM pg_class c LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
                      WHERE c.relname IN ('hot', 'hot_pkey', 'hot_v', 'cold', 'cold_pkey') ORDER BY 1`;
      expect(await dst.query(placed, [], 'spaced_there')).toEqual(await src.query(placed, [], 'spaced'));
      expect((await dst.query<{ ts: string }>(placed, [], 'spaced_there')).map((r) => r.ts)).toEqual(['-', '-', 'fast_ssd', 'fast_ssd', 'fast_ssd']);
    } finally {
      await dst.query('DROP DATABASE IF EXISTS spaced_there').catch(() => undefined);
      await dst.query('DROP TABLESPACE IF EXISTS fast_ssd').catch(() => undefined);
      await src.query('DROP DATABASE IF EXISTS spaced').catch(() => undefined);
      await src.query('DROP TABLESPACE IF EXISTS fast_ssd').catch(() => undefined);
      rmSync(tsDir, { recursive: true, force: true });
      rmSync(dstTsDir, { recursive: true, force: true });
    }
  });
});

describe('runRestoreFiles', () => {
  it('writes the archive byte-identical (SHA-256 checked) and plain pg_restore restores it without pgvault', async () => {
    const dir = join(work, 'files');
    const files = await runRestoreFiles(vault, backup.manifest.id as ManifestId, dir);
    expect(files).toEqual([{ name: 'shopdb.dump', database: 'shopdb', sizeBytes: backup.bytesDumped, sha256: backup.sha256 }]);
    const bytes = readFileSync(join(dir, 'shopdb.dump'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(backup.sha256);
    await dst.createDatabase('plain');
    await dst.query('CREATE ROLE reader');
    const r = spawnSync('pg_restore', ['-h', dst.host, '-p', String(dst.port), '-U', dst.superuser, '-d', 'plain', '-j', '2', join(dir, 'shopdb.dump')], {
      env: { ...process.env, PGPASSWORD: dst.password },
    });
    expect(r.status, r.stderr.toString()).toBe(0);
    const want = await summary(src, 'shopdb');
    expect(await summary(dst, 'plain')).toEqual(want);
  });

  it('writes into a StorageBackend under a prefix', async () => {
    const backend = new MemoryBackend();
    const files = await runRestoreFiles(vault, backup.manifest.id as ManifestId, backend, { prefix: 'restores/one/' });
    expect(files[0]!.sha256).toBe(backup.sha256);
    const body = await collect(await backend.get(parseStorageKey('restores/one/shopdb.dump')));
    expect(createHash('sha256').update(body).digest('hex')).toBe(backup.sha256);
    expect(body.subarray(0, 5).toString()).toBe('PGDMP');
  });

  it('never overwrites: a second restore into the same directory or prefix is refused, the first files intact', async () => {
    const dir = join(work, 'files');
    const before = readFileSync(join(dir, 'shopdb.dump'));
    const err = await runRestoreFiles(vault, backup.manifest.id as ManifestId, dir).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UserErrorConflict');
    expect((err as { hint?: string }).hint).toContain('empty directory');
    expect(readFileSync(join(dir, 'shopdb.dump')).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['shopdb.dump']); // no partial file left behind
    const backend = new MemoryBackend();
    await runRestoreFiles(vault, backup.manifest.id as ManifestId, backend, { prefix: 'again/' });
    expect((await runRestoreFiles(vault, backup.manifest.id as ManifestId, backend, { prefix: 'again/' }).catch((e: unknown) => e) as { code?: string }).code).toBe('UserErrorConflict');
  });

  it('names files for awkward database names so that every store and filesystem takes them (no "..", no leading or trailing dot, no *)', () => {
    const expected: [string, string][] = [
      ['shop', 'shop.dump'],
      ['app.v2', 'app.v2.dump'],
      ['app.', 'app%2E.dump'],
      ['v1..2', 'v1%2E.2.dump'],
      ['..', '%2E%2E.dump'],
      ['../etc/x', '%2E.%2Fetc%2Fx.dump'],
      // exFAT, FAT and SMB refuse * (encodeURIComponent keeps it); the other characters they refuse are encoded.
      ['a*b:c?"<>|\\', 'a%2Ab%3Ac%3F%22%3C%3E%7C%5C.dump'],
    ];
    expect(expected.map(([name]) => [name, dumpFileName(name)])).toEqual(expected);
    for (const name of ['app.', 'v1..2', '...', '.hidden', 'a/../b']) {
      expect(() => parseStorageKey(`restores/${dumpFileName(name)}`), name).not.toThrow();
      expect(dumpFileName(name)).not.toContain('..');
    }
  });

  it('the archive reader rejects a cut archive (what a torn file would be)', async () => {
    const bytes = readFileSync(join(work, 'files', 'shopdb.dump'));
    const { readArchiveIndex } = await import('../../src/postgres/index.ts');
    await expect(readArchiveIndex([bytes.subarray(0, bytes.length - 3)])).rejects.toBeInstanceOf(IntegrityErrorArchiveMalformed);
  });
});
