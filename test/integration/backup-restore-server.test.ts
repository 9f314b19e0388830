/** Whole-server backup and restore against real servers: globals plus every database (templates and exclusions
 *  left out) dumped in parallel into ONE recovery point; a cancelled run leaves none; restored onto a fresh
 *  PostgreSQL 16 with the roles recreated first (ownership and grants kept), one database out of the point
 *  (item-level), and the point restored as files (one archive per database plus globals.sql). */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyGlobals, entryNames, runRestore, runRestoreFiles, runServerBackup, splitSqlScript, type ServerBackupResult } from '../../src/operations/index.ts';
import { discoverClients, parsePgUrl, type PgClientSet } from '../../src/postgres/index.ts';
import { AzureBlobBackend, FilesystemBackend, parseStorageKey } from '../../src/storage/index.ts';
import { Vault, type ManifestId } from '../../src/vault/index.ts';
import { startAzurite, type AzuriteHandle } from '../support/azurite.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

let src: PgCluster;
let dst: PgCluster;
let work: string;
let vault: Vault;
let clients: PgClientSet;
let point: ServerBackupResult;
let azurite: AzuriteHandle | undefined;

async function tableDigest(c: PgCluster, db: string, table: string): Promise<string> {
  const [r] = await c.query<{ h: string }>(`SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM ${table} x`, [], db);
  return r!.h;
}

beforeAll(async () => {
  [src, dst] = await Promise.all([startCluster({ major: 15 }), startCluster({ major: 16 })]);
  work = mkdtempSync(join(tmpdir(), 'pgvault-br-server-'));
  vault = await Vault.create(new FilesystemBackend(join(work, 'vault')), { passphrase: 'correct horse battery', kdf: { N: 1 << 10, r: 8, p: 1 } });
  clients = await discoverClients();
  await src.query(`CREATE ROLE app_owner LOGIN PASSWORD 'app-owner-pw'; CREATE ROLE reader NOLOGIN; GRANT reader TO app_owner; ALTER ROLE reader SET statement_timeout = '5min'`);
  // A role with an attribute only a superuser may give, and a connection limit.
  await src.query(`CREATE ROLE "Replicator 1" LOGIN REPLICATION CONNECTION LIMIT 3; GRANT pg_read_server_files TO "Replicator 1"`);
  await src.query(`CREATE ROLE ops NOLOGIN; GRANT ops TO app_owner`);
  await src.createDatabase('alpha', 'app_owner');
  await src.createDatabase('beta');
  await src.createDatabase('skipme');
  await src.query(
    `SET ROLE app_owner;
     CREATE TABLE accounts (id serial PRIMARY KEY, name text, balance numeric(12,2));
     INSERT INTO accounts (name, balance) SELECT 'acct ' || g, g * 10.5 FROM generate_series(1, 3000) g;
     GRANT SELECT ON accounts TO reader;`,
    [],
    'alpha',
  );
  await src.query(`CREATE TABLE events (id int PRIMARY KEY, kind text, at timestamptz); INSERT INTO events SELECT g, 'k' || (g % 9), now() FROM generate_series(1, 2000) g;`, [], 'beta');
  await src.query('CREATE TABLE nothing_here (x int)', [], 'skipme');
  // A DROP DATABASE interrupted halfway leaves an invalid database (datconnlimit = -2) that nobody can connect to.
  await src.createDatabase('half_dropped');
  await src.query(`UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'half_dropped'`);
  await src.createDatabase('no_entry');
  await src.query(`ALTER DATABASE no_entry ALLOW_CONNECTIONS false`);
  await src.createDatabase('tmpl');
  await src.query(`ALTER DATABASE tmpl IS_TEMPLATE true`);
});

afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop(), azurite?.stop()]);
  await vault?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('runServerBackup', () => {
  it('leaves no recovery point when cancelled', async () => {
    const ac = new AbortController();
    const err = await runServerBackup(vault, parsePgUrl(src.url('postgres')), {
      clients,
      signal: ac.signal,
      onProgress: () => ac.abort(new Error('stop')),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await vault.listManifests()).toEqual([]);
  });

  it('backs up globals and every database but templates, exclusions and invalid ones, in parallel, as one point', async () => {
    point = await runServerBackup(vault, parsePgUrl(src.url('postgres')), { clients, exclude: { names: ['skipme'] }, parallel: 2 });
    expect(point.databases.map((d) => d.name)).toEqual(['alpha', 'beta', 'postgres']);
    const m = await vault.readManifest(point.manifest.id as ManifestId);
    expect(m.meta).toMatchObject({ kind: 'server', databases: ['alpha', 'beta', 'postgres'] });
    // What was left out, and why: nothing silently.
    const leftOut = [
      { name: 'half_dropped', why: 'invalid (a DROP DATABASE was interrupted)' },
      { name: 'no_entry', why: 'it allows no connections (datallowconn = false)' },
      { name: 'skipme', why: 'excluded by name' },
      { name: 'tmpl', why: 'a template' },
    ];
    expect(point.skipped).toEqual(leftOut);
    expect(m.meta.skippedDatabases).toEqual(leftOut);
    expect(point.log).toContain('pgvault: database "no_entry" left out: it allows no connections (datallowconn = false)');
    expect(m.entries.map((e) => e.name).sort()).toEqual(
      [entryNames.globals, ...['alpha', 'beta', 'postgres'].flatMap((d) => [entryNames.archive(d), entryNames.index(d)])].sort(),
    );
    const globals = (await collect(vault.load(point.manifest.id as ManifestId, entryNames.globals))).toString();
    expect(globals).toMatch(/CREATE ROLE app_owner;/);
    expect(globals).not.toMatch(/app-owner-pw|SCRAM-SHA-256\$/);
    expect(splitSqlScript(globals).some((s) => /^GRANT reader TO app_owner/.test(s))).toBe(true);
  });
});

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('restore of a whole-server point onto a fresh PostgreSQL 16', () => {
  it('recreates the roles first, then restores a database with its owners and grants', async () => {
    const report = await runRestore(vault, point.manifest.id as ManifestId, 'alpha', parsePgUrl(dst.url('postgres')), {
      newDatabase: 'alpha',
      createRoles: true,
      privilegedRoles: true,
      jobs: 2,
      clients,
    });
    expect(report.globals!.created.sort()).toEqual(['Replicator 1', 'app_owner', 'ops', 'reader']);
    expect(report.globals!.withheld).toEqual([]);
    // A superuser asking for privileged roles gives them what the source had.
    expect(await dst.query(`SELECT rolreplication AS r, pg_has_role(oid, 'pg_read_server_files', 'MEMBER') AS f FROM pg_roles WHERE rolname = 'Replicator 1'`)).toEqual([{ r: true, f: true }]);
    expect(report.globals!.existing).toContain('postgres');
    expect(report.globals!.failed).toEqual([]);
    expect(report.missingRoles).toEqual([]);
    expect(report.skippedAcls).toEqual([]);
    expect(report.ownersKept).toBe(true);
    expect(await tableDigest(dst, 'alpha', 'accounts')).toBe(await tableDigest(src, 'alpha', 'accounts'));
    const [own] = await dst.query<{ o: string }>(`SELECT tableowner AS o FROM pg_tables WHERE tablename = 'accounts'`, [], 'alpha');
    expect(own!.o).toBe('app_owner');
    const [grant] = await dst.query<{ ok: boolean }>(`SELECT has_table_privilege('reader', 'accounts', 'SELECT') AS ok`, [], 'alpha');
    expect(grant!.ok).toBe(true);
    const [member] = await dst.query<{ ok: boolean }>(`SELECT pg_has_role('app_owner', 'reader', 'MEMBER') AS ok`);
    expect(member!.ok).toBe(true);
    const [login] = await dst.query<{ l: boolean; pw: string | null }>(`SELECT rolcanlogin AS l, rolpassword AS pw FROM pg_authid WHERE rolname = 'app_owner'`);
    expect(login).toEqual({ l: true, pw: null });
  });

  it('recreates the roles as a CREATEROLE non-superuser (15, 17) or a superuser by default: LOGIN and limits kept, privileges withheld and reported', async () => {
    for (const [major, superuser] of [[15, false], [17, false], [17, true]] as const) {
      const target = await startCluster({ major });
      try {
        await target.createRole('role_admin', 'role-admin-pw-1', superuser ? 'LOGIN SUPERUSER' : 'LOGIN CREATEROLE CREATEDB');
        const asAdmin = parsePgUrl(target.url('postgres', 'role_admin', 'role-admin-pw-1'));
        // On the superuser's target, ops exists already and may write the server's files: joining it is privileged.
        if (superuser) await target.query(`CREATE ROLE ops NOLOGIN; GRANT pg_write_server_files TO ops`);
        // A restore refused by its checks (the target database exists) creates no role.
        const refused = await runRestore(vault, point.manifest.id as ManifestId, 'alpha', asAdmin, { newDatabase: 'postgres', createRoles: true, clients }).catch((e: unknown) => e);
        expect((refused as { code?: string }).code).toBe('UserErrorTargetDatabaseExists');
        expect(await target.query(`SELECT rolname FROM pg_roles WHERE rolname IN ('app_owner', 'reader')`)).toEqual([]);

        const report = await runRestore(vault, point.manifest.id as ManifestId, 'alpha', asAdmin, { newDatabase: 'alpha', createRoles: true, jobs: 2, clients });
        expect(report.globals!.failed, `PostgreSQL ${major}`).toEqual([]);
        expect(report.globals!.created.sort()).toEqual(superuser ? ['Replicator 1', 'app_owner', 'reader'] : ['Replicator 1', 'app_owner', 'ops', 'reader']);
        expect([...report.globals!.withheld].sort((a, b) => (a.role < b.role ? -1 : 1))).toEqual([
          { role: 'Replicator 1', attributes: ['REPLICATION', 'member of pg_read_server_files'] },
          ...(superuser ? [{ role: 'app_owner', attributes: ['member of ops'] }] : []),
        ]);
        expect(await target.query(`SELECT pg_has_role('app_owner', 'ops', 'MEMBER') AS m`)).toEqual([{ m: !superuser }]);
        expect(await target.query(`SELECT pg_has_role('Replicator 1', 'pg_read_server_files', 'MEMBER') AS f`)).toEqual([{ f: false }]);
        const roles = await target.query(
          `SELECT rolname, rolcanlogin, rolreplication, rolconnlimit FROM pg_roles WHERE rolname IN ('app_owner', 'reader', 'Replicator 1') ORDER BY 1`,
        );
        expect(roles).toEqual([
          { rolname: 'Replicator 1', rolcanlogin: true, rolreplication: false, rolconnlimit: 3 },
          { rolname: 'app_owner', rolcanlogin: true, rolreplication: false, rolconnlimit: -1 },
          { rolname: 'reader', rolcanlogin: false, rolreplication: false, rolconnlimit: -1 },
        ]);
        expect(await target.query(`SELECT pg_has_role('app_owner', 'reader', 'MEMBER') AS m`)).toEqual([{ m: true }]);
        expect(await tableDigest(target, 'alpha', 'accounts')).toBe(await tableDigest(src, 'alpha', 'accounts'));
        expect(await target.query(`SELECT has_table_privilege('reader', 'accounts', 'SELECT') AS ok`, [], 'alpha')).toEqual([{ ok: true }]);
      } finally {
        await target.stop();
      }
    }
  });

  it('restores one database out of the point under a new name (item-level)', async () => {
    const report = await runRestore(vault, point.manifest.id as ManifestId, 'beta', parsePgUrl(dst.url('postgres')), { newDatabase: 'beta_copy', clients });
    expect(report.sourceDatabase).toBe('beta');
    expect(await tableDigest(dst, 'beta_copy', 'events')).toBe(await tableDigest(src, 'beta', 'events'));
  });

  it('restores the point as files: one pg_dump archive per database plus globals.sql, SHA-256 checked', async () => {
    const dir = join(work, 'files');
    const files = await runRestoreFiles(vault, point.manifest.id as ManifestId, dir);
    expect(files.map((f) => f.name).sort()).toEqual(['alpha.dump', 'beta.dump', 'globals.sql', 'postgres.dump']);
    expect(readdirSync(dir).sort()).toEqual(['alpha.dump', 'beta.dump', 'globals.sql', 'postgres.dump']);
    for (const d of point.databases) {
      const bytes = readFileSync(join(dir, `${d.name}.dump`));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(d.sha256);
    }
  });

  it('restores the point as files into an Azure blob container under a prefix (Azurite)', async () => {
    azurite = await startAzurite();
    const blob = await AzureBlobBackend.open(`azblob://${azurite.accountName}/restores`, { accountKey: azurite.accountKey, endpoint: azurite.blobEndpoint, createContainer: true });
    const files = await runRestoreFiles(vault, point.manifest.id as ManifestId, blob, { prefix: 'server/2026-11-22/' });
    expect(files.map((f) => f.name).sort()).toEqual(['alpha.dump', 'beta.dump', 'globals.sql', 'postgres.dump']);
    for (const d of point.databases) {
      const body = await collect(await blob.get(parseStorageKey(`server/2026-11-22/${d.name}.dump`)));
      expect(createHash('sha256').update(body).digest('hex')).toBe(d.sha256);
    }
    const globals = await collect(await blob.get(parseStorageKey('server/2026-11-22/globals.sql')));
    expect(globals.toString()).toContain('CREATE ROLE app_owner;');
    await blob.close();
  });
});

/** Holds an ACCESS EXCLUSIVE lock on `table` in `db` until released, and waits for pg_dump to queue behind it. */
async function blockPgDump(c: PgCluster, db: string, table: string): Promise<{ pgDumpPid: () => Promise<number>; release: () => Promise<void> }> {
  const holder = await c.connect(db);
  await holder.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return {
    pgDumpPid: async () => {
      for (let i = 0; i < 600; i++) {
        const [r] = await c.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump' AND wait_event_type = 'Lock'`,
          [db],
        );
        if (r) return r.pid;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`pg_dump never waited for the lock in ${db}`);
    },
    release: () => holder.end().catch(() => undefined),
  };
}

describe('a database dropped while the whole-server backup runs', () => {
  it('is left out and reported; the point holds the others', async () => {
    await src.createDatabase('yy_slow');
    await src.query(`CREATE TABLE t AS SELECT g, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 150000) g`, [], 'yy_slow');
    await src.createDatabase('zz_scratch');
    let dropping: Promise<unknown> | undefined;
    try {
      const p = await runServerBackup(vault, parsePgUrl(src.url('postgres')), {
        clients,
        parallel: 1,
        exclude: { names: ['skipme', 'latin_conn'] },
        // While alpha is dumped, zz_scratch (dumped last, after the slow one) is dropped.
        onProgress: (x) => {
          if (x.database === 'alpha') dropping ??= src.query('DROP DATABASE zz_scratch');
        },
      });
      await dropping;
      expect(p.databases.map((d) => d.name)).toEqual(['alpha', 'beta', 'postgres', 'yy_slow']);
      expect(p.skipped).toContainEqual({ name: 'zz_scratch', why: 'dropped while the backup ran' });
      const m = await vault.readManifest(p.manifest.id as ManifestId);
      expect(m.meta.databases).toEqual(['alpha', 'beta', 'postgres', 'yy_slow']);
      expect(m.meta.skippedDatabases).toContainEqual({ name: 'zz_scratch', why: 'dropped while the backup ran' });
      expect(m.entries.map((e) => e.name)).not.toContain(entryNames.archive('zz_scratch'));
    } finally {
      await dropping?.catch(() => undefined);
      await src.query('DROP DATABASE IF EXISTS zz_scratch');
      await src.query('DROP DATABASE yy_slow');
    }
  });

  it('is left out when dropped (WITH FORCE) after pg_dump connected, before its first byte', async () => {
    await src.createDatabase('zz_forced');
    await src.query('CREATE TABLE busy (x int)', [], 'zz_forced');
    const lock = await blockPgDump(src, 'zz_forced', 'busy');
    try {
      const backup = runServerBackup(vault, parsePgUrl(src.url('postgres')), { clients, parallel: 1, exclude: { names: ['skipme', 'latin_conn'] } });
      backup.catch(() => undefined);
      await lock.pgDumpPid();
      await src.query('DROP DATABASE zz_forced WITH (FORCE)');
      const p = await backup;
      expect(p.databases.map((d) => d.name)).toEqual(['alpha', 'beta', 'postgres']);
      expect(p.skipped).toContainEqual({ name: 'zz_forced', why: 'dropped while the backup ran' });
      expect(p.log).toContain('pgvault: database "zz_forced" left out: dropped while the backup ran');
      const m = await vault.readManifest(p.manifest.id as ManifestId);
      expect(m.entries.map((e) => e.name).sort()).toEqual(
        [entryNames.globals, ...['alpha', 'beta', 'postgres'].flatMap((d) => [entryNames.archive(d), entryNames.index(d)])].sort(),
      );
    } finally {
      await lock.release();
      await src.query('DROP DATABASE IF EXISTS zz_forced WITH (FORCE)');
    }
  });

  it('fails the run, with no point, when pg_dump fails before its first byte and the database is still there', async () => {
    await src.createDatabase('zz_kept');
    await src.query('CREATE TABLE busy (x int)', [], 'zz_kept');
    const before = (await vault.listManifests()).length;
    const lock = await blockPgDump(src, 'zz_kept', 'busy');
    try {
      const backup = runServerBackup(vault, parsePgUrl(src.url('postgres')), { clients, parallel: 1, exclude: { names: ['skipme', 'latin_conn'] } });
      backup.catch(() => undefined);
      await src.query('SELECT pg_terminate_backend($1)', [await lock.pgDumpPid()]);
      await expect(backup).rejects.toMatchObject({ code: 'TransientErrorConnectionLost', details: { database: 'zz_kept' } });
      expect((await vault.listManifests()).length).toBe(before);
    } finally {
      await lock.release();
      await src.query('DROP DATABASE zz_kept WITH (FORCE)');
    }
  });
});

describe('globals through a database in another encoding', () => {
  it('keep a non-ASCII role name when dumped through a LATIN1 database, and recreate it as it was', async () => {
    await src.query(`CREATE ROLE "Jürgen" NOLOGIN`);
    await src.query(`CREATE DATABASE latin_conn TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
    await src.query(`CREATE TABLE "Größe" (n int); INSERT INTO "Größe" VALUES (1)`, [], 'latin_conn');
    try {
      const p = await runServerBackup(vault, parsePgUrl(src.url('latin_conn')), { clients, exclude: { names: ['alpha', 'beta', 'postgres', 'skipme'] } });
      // Each database's pg_dump log is read in that database's encoding.
      expect(p.log).toContain('[latin_conn] pg_dump: dumping contents of table "public.Größe"');
      const globals = (await collect(vault.load(p.manifest.id as ManifestId, entryNames.globals))).toString('utf8');
      expect(globals).toContain(`SET client_encoding = 'LATIN1';`);
      expect(globals).toContain('CREATE ROLE "Jürgen";');
      const report = await applyGlobals(parsePgUrl(dst.url('postgres')), globals);
      expect(report.created).toContain('Jürgen');
      expect(await dst.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'J%rgen'`)).toEqual([{ rolname: 'Jürgen' }]);
    } finally {
      await src.query('DROP ROLE "Jürgen"');
      await dst.query('DROP ROLE IF EXISTS "Jürgen"');
    }
  });
});
