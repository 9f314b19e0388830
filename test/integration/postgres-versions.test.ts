/** Versions against real servers: PostgreSQL 14 as a dump source (pg_read_all_data, which does not cover large
 *  objects), 16 and 17 refused by pg_dump 15 with the version to install, and as restore targets for pg_restore 15
 *  (as a CREATEDB role, missing roles reported), including a real out-of-disk on a tiny tmpfs tablespace. */
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  discoverClients,
  grantScript,
  onlyRoleErrors,
  parsePgUrl,
  pickClient,
  preflight,
  restoreRoleIssues,
  spawnPgDump,
  spawnPgRestore,
  UserErrorMissingDBPermissions,
  UserErrorPgDumpTooOld,
  UserErrorTargetOutOfDisk,
  type PgClientSet,
} from '../../src/postgres/index.ts';
import { startCluster, type PgCluster } from '../support/pg-cluster.ts';

let c14: PgCluster;
let c16: PgCluster;
let c17: PgCluster;
let clients: PgClientSet;
let archive: Buffer;
let tinyDir: string | undefined;
let tinyMounted = false;

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  [c14, c16, c17] = await Promise.all([startCluster({ major: 14 }), startCluster({ major: 16 }), startCluster({ major: 17 })]);
  clients = await discoverClients();
  await c14.createRole('app_owner', 'app-owner-pw', 'LOGIN');
  await c14.createRole('reader', 'reader-pw-14', 'LOGIN');
  await c14.query('GRANT pg_read_all_data TO reader');
  await c14.createDatabase('sales', 'app_owner');
  await c14.query(
    `SET ROLE app_owner;
     CREATE SCHEMA crm;
     CREATE TABLE crm.customers (id int PRIMARY KEY, name text);
     INSERT INTO crm.customers SELECT g, 'customer ' || g FROM generate_series(1, 500) g;
     CREATE TABLE public.orders (id int PRIMARY KEY, pad text);
     INSERT INTO public.orders SELECT g, repeat(md5(g::text), 14) FROM generate_series(1, 40000) g;
     SELECT lo_from_bytea(0, 'sales contract');`,
    [],
    'sales',
  );
  for (const c of [c16, c17]) await c.createRole('restorer', 'restorer-pw-1', 'LOGIN CREATEDB');
});

afterAll(async () => {
  await Promise.all([c14?.stop(), c16?.stop(), c17?.stop()]);
  if (tinyMounted && tinyDir) spawnSync('umount', [tinyDir]);
  if (tinyDir) rmSync(tinyDir, { recursive: true, force: true });
});

describe('PostgreSQL 14 as a source', () => {
  it('a member of pg_read_all_data passes once it may read the large objects (which that role does not cover)', async () => {
    const cfg = parsePgUrl(c14.url('sales', 'reader', 'reader-pw-14'));
    const err = await preflight(cfg, { clients }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorMissingDBPermissions);
    const [lo] = await c14.query<{ oid: string }>('SELECT oid::text FROM pg_largeobject_metadata', [], 'sales');
    expect((err as UserErrorMissingDBPermissions).details.missing).toEqual([`SELECT on large object ${lo?.oid} in database "sales"`]);
    await c14.query(`GRANT SELECT ON LARGE OBJECT ${lo?.oid} TO reader`, [], 'sales');

    const report = await preflight(cfg, { clients });
    expect(report.role).toEqual({ name: 'reader', superuser: false, readAllData: true });
    expect(report.server.major).toBe(14);
    expect(report.databases[0]).toMatchObject({ name: 'sales', encoding: 'UTF8' });
    expect(report.pgDump.major).toBe(15);
    const proc = spawnPgDump(cfg, { client: report.pgDump });
    [archive] = await Promise.all([readAll(proc.stdout), proc.done]);
    expect(archive.subarray(0, 5).toString()).toBe('PGDMP');
  });
  it('the full script on 14 (pg_read_all_data plus large objects) lets a bare role pass and dump', async () => {
    await c14.createRole('reader2', 'reader2-pw-14', 'LOGIN');
    const script = await grantScript('reader2', { databases: ['sales'], serverMajor: 14 });
    const res = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `host=127.0.0.1 port=${c14.port} user=postgres dbname=postgres`], {
      input: script,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: c14.password },
    });
    expect(res.stderr).toBe('');
    const cfg = parsePgUrl(c14.url('sales', 'reader2', 'reader2-pw-14'));
    const report = await preflight(cfg, { clients });
    expect(report.role.readAllData).toBe(true);
    const proc = spawnPgDump(cfg, { client: report.pgDump });
    const [dump] = await Promise.all([readAll(proc.stdout), proc.done]);
    expect(dump.length).toBeGreaterThan(1000);
  });
});

describe('PostgreSQL 16 and 17', () => {
  it.each([16, 17] as const)('pg_dump 15 cannot dump %i: UserErrorPgDumpTooOld names the version to install', async (major) => {
    const cluster = major === 16 ? c16 : c17;
    const cfg = parsePgUrl(cluster.url('postgres'));
    const err = await preflight(cfg, { clients }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorPgDumpTooOld);
    expect((err as Error).message).toContain(`pg_dump ${major}`);
    expect((err as UserErrorPgDumpTooOld).hint).toContain(`postgresql-client-${major}`);
    // Forced anyway, pg_dump's own refusal maps to the same code.
    const proc = spawnPgDump(cfg, { client: pickClient(clients, 'pg_dump', 15) });
    const forced = await proc.done.catch((e: unknown) => e);
    expect(forced).toBeInstanceOf(UserErrorPgDumpTooOld);
    expect((forced as Error).message).toContain(`pg_dump ${major}`);
  });

  it('restores 14 → 16 as a CREATEDB role, reporting the missing owner role and going on', async () => {
    const target = parsePgUrl(c16.url('postgres', 'restorer', 'restorer-pw-1'));
    await c16.query('CREATE DATABASE sales_copy OWNER restorer');
    const restore = spawnPgRestore({ ...target, database: 'sales_copy' }, { client: pickClient(clients, 'pg_restore', 16), acceptErrors: onlyRoleErrors });
    restore.stdin.end(archive);
    const result = await restore.done;
    const issues = restoreRoleIssues(result.errors);
    // The source's owner and grantee roles do not exist here; the public schema's owner exists but a CREATEDB role
    // may not hand ownership to it. Those statements are skipped, everything else is restored.
    expect(issues.missingRoles).toEqual(['app_owner', 'reader']);
    expect(issues.other).toEqual([]);
    expect(issues.skipped).toContainEqual({ statement: 'ALTER TABLE public.orders OWNER TO app_owner;', reason: 'missing role' });
    expect(issues.skipped).toContainEqual({ statement: 'ALTER SCHEMA public OWNER TO postgres;', reason: 'ownership not transferable' });
    const rows = await c16.query<{ customers: string; orders: string }>(
      'SELECT (SELECT count(*) FROM crm.customers) AS customers, (SELECT count(*) FROM public.orders) AS orders',
      [],
      'sales_copy',
    );
    expect(rows[0]).toEqual({ customers: '500', orders: '40000' });
  });

  it('restores 14 → 17 without owners and privileges cleanly', async () => {
    const target = parsePgUrl(c17.url('postgres', 'restorer', 'restorer-pw-1'));
    await c17.query('CREATE DATABASE sales_copy OWNER restorer');
    const tables: string[] = [];
    const restore = spawnPgRestore(
      { ...target, database: 'sales_copy' },
      { client: pickClient(clients, 'pg_restore', 17), noOwner: true, noPrivileges: true, onProgress: (p) => p.currentTable && tables.push(p.currentTable) },
    );
    restore.stdin.end(archive);
    const result = await restore.done;
    expect(result.errors).toEqual([]);
    expect(result.bytes).toBe(archive.length);
    expect(new Set(tables)).toEqual(new Set(['crm.customers', 'public.orders']));
    const [row] = await c17.query<{ n: string; lo: string }>("SELECT (SELECT count(*) FROM public.orders) AS n, (SELECT convert_from(lo_get(oid), 'UTF8') FROM pg_largeobject_metadata) AS lo", [], 'sales_copy');
    expect(row).toEqual({ n: '40000', lo: 'sales contract' });
  });

  it('a target that runs out of disk fails with UserErrorTargetOutOfDisk (a 12 MB tmpfs tablespace on 17)', async () => {
    tinyDir = mkdtempSync(join(tmpdir(), 'pgvault-tiny-ts-'));
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=12m,mode=0700', 'tmpfs', tinyDir], { encoding: 'utf8' });
    expect(mount.status, `mount a tmpfs (needs root): ${mount.stderr}`).toBe(0);
    tinyMounted = true;
    const pgUid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const pgGid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(tinyDir, pgUid, pgGid);
    await c17.query(`CREATE TABLESPACE tiny LOCATION '${tinyDir}'`);
    await c17.query('GRANT CREATE ON TABLESPACE tiny TO restorer');
    await c17.query('CREATE DATABASE cramped OWNER restorer TABLESPACE tiny');

    const target = parsePgUrl(c17.url('cramped', 'restorer', 'restorer-pw-1'));
    const restore = spawnPgRestore(target, { client: pickClient(clients, 'pg_restore', 17), noOwner: true, noPrivileges: true, exitOnError: true });
    restore.stdin.end(archive);
    const err = await restore.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorTargetOutOfDisk);
    expect(restore.log.join('\n')).toMatch(/No space left on device|could not extend file/);
    await c17.dropDatabase('cramped');
  });
});
