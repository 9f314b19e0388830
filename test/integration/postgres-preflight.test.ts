/** Pre-flight and grant scripts against a real PostgreSQL 13 (no pg_read_all_data there): the exact missing
 *  privileges (CONNECT, USAGE, SELECT on tables and sequences, extension configuration tables, large objects, RLS), their GRANT script applied
 *  with psql until pre-flight passes and pg_dump succeeds, the full script for a role covering objects created
 *  later, whole-server listing with exclusions, and the superuser warning. */
import { spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  discoverClients,
  fullGrantScript,
  grantScript,
  listDatabases,
  parsePgUrl,
  pickClient,
  preflight,
  spawnPgDump,
  UserErrorMissingDBPermissions,
  type PgClientSet,
  type PgConnectionConfig,
} from '../../src/postgres/index.ts';
import { startCluster, type PgCluster } from '../support/pg-cluster.ts';

let cluster: PgCluster;
let clients: PgClientSet;

/** Applies a script as the superuser with psql, as a user would (the scripts \connect between databases). */
function psql(script: string, database = 'postgres'): void {
  const res = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `host=127.0.0.1 port=${cluster.port} user=postgres dbname=${database}`], {
    input: script,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: cluster.password },
  });
  if (res.status !== 0) throw new Error(`psql failed: ${res.stderr}`);
}

async function expectMissing(cfg: PgConnectionConfig): Promise<UserErrorMissingDBPermissions> {
  const err = await preflight(cfg, { clients }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UserErrorMissingDBPermissions);
  return err as UserErrorMissingDBPermissions;
}

async function dumpSize(cfg: PgConnectionConfig): Promise<number> {
  const proc = spawnPgDump(cfg, { client: (await preflight(cfg, { clients })).pgDump });
  let n = 0;
  for await (const c of proc.stdout as Readable) n += (c as Buffer).length;
  await proc.done;
  return n;
}

beforeAll(async () => {
  cluster = await startCluster({ major: 13 });
  clients = await discoverClients();
  await cluster.createRole('owner1', 'owner1-pw', 'LOGIN');
  await cluster.createRole('bk', 'bk-password-1', 'LOGIN');
  await cluster.createRole('bk2', 'bk2-password-1', 'LOGIN');
  await cluster.createDatabase('shop', 'owner1');
  await cluster.query('REVOKE CONNECT ON DATABASE shop FROM PUBLIC');
  await cluster.query(
    `SET ROLE owner1;
     CREATE SCHEMA billing;
     CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount numeric);
     INSERT INTO billing.invoices (amount) VALUES (10), (20);
     CREATE TABLE billing.secrets (id int, who text);
     ALTER TABLE billing.secrets ENABLE ROW LEVEL SECURITY;
     CREATE POLICY own ON billing.secrets USING (who = current_user);
     CREATE TABLE public.items (sku text PRIMARY KEY);
     CREATE VIEW public.item_view AS SELECT sku FROM public.items;
     SELECT lo_from_bytea(0, 'a large object');`,
    [],
    'shop',
  );
});

afterAll(async () => {
  await cluster?.stop();
});

describe('preflight on PostgreSQL 13', () => {
  it('lists exactly the missing privileges, and their script makes pre-flight pass and pg_dump succeed', async () => {
    const cfg = parsePgUrl(cluster.url('shop', 'bk', 'bk-password-1'));
    // Without CONNECT nothing inside the database can be seen yet.
    const first = await expectMissing(cfg);
    expect(first.details.missing).toEqual(['CONNECT on database "shop"']);
    expect(first.details.grantScript).toBe('-- pgvault: the privileges role "bk" lacks for a logical backup. Run with psql as the owner of the objects or a superuser.\nGRANT CONNECT ON DATABASE "shop" TO "bk";\n');
    psql(first.details.grantScript as string);

    const [lo] = await cluster.query<{ oid: string }>('SELECT oid::text FROM pg_largeobject_metadata', [], 'shop');
    const second = await expectMissing(cfg);
    expect(second.details.missing).toEqual([
      'USAGE on schema "billing" in database "shop"',
      'SELECT on table "billing"."invoices" in database "shop"',
      'SELECT on sequence "billing"."invoices_id_seq" in database "shop"',
      'SELECT on table "billing"."secrets" in database "shop"',
      'SELECT on table "public"."items" in database "shop"',
      'BYPASSRLS (table "billing"."secrets" in database "shop" has row-level security)',
      `SELECT on large object ${lo?.oid} in database "shop"`,
    ]);
    expect(second.message).toContain('role "bk" lacks privileges');
    psql(second.details.grantScript as string);

    const report = await preflight(cfg, { clients });
    expect(report.server.major).toBe(13);
    expect(report.server.version).toMatch(/^13\.\d+$/);
    expect(report.role).toEqual({ name: 'bk', superuser: false, readAllData: false });
    expect(report.databases).toHaveLength(1);
    expect(report.databases[0]).toMatchObject({ name: 'shop', owner: 'owner1', encoding: 'UTF8', canConnect: true });
    expect(report.databases[0]?.sizeBytes).toBeGreaterThan(1_000_000);
    expect(report.pgDump.major).toBe(15);
    expect(report.warnings).toEqual([]);
    expect(await dumpSize(cfg)).toBeGreaterThan(1000);
  });

  it('the full script for a role covers every object, and objects and schemas created later, also by a role that owned nothing yet; new large objects are reported', async () => {
    const cfg = parsePgUrl(cluster.url('shop', 'bk2', 'bk2-password-1'));
    // Read from the server by the role itself (catalogs are public), as `pgvault grants` would.
    const script = await fullGrantScript(parsePgUrl(cluster.url('postgres', 'bk2', 'bk2-password-1')), { wholeServer: true, excludeDatabases: ['postgres'] });
    expect(script).toBe(await grantScript('bk2', { databases: ['shop'], serverMajor: 13 }));
    // A role that owns nothing yet but may create tables (CREATE on a schema; on 13 PUBLIC has it on public too).
    await cluster.createRole('newcomer', 'newcomer-pw-1', 'NOLOGIN');
    await cluster.query('GRANT USAGE, CREATE ON SCHEMA billing TO newcomer', [], 'shop');
    psql(script);
    await preflight(cfg, { clients });

    await cluster.query(
      `SET ROLE owner1;
       CREATE SCHEMA later;
       CREATE TABLE later.things (id bigserial PRIMARY KEY);
       CREATE TABLE public.more_items (sku text);
       SELECT lo_from_bytea(0, 'created later');
       SET ROLE newcomer;
       CREATE TABLE billing.by_newcomer (id serial PRIMARY KEY);
       CREATE TABLE public.also_by_newcomer (x int);`,
      [],
      'shop',
    );
    const [newest] = await cluster.query<{ oid: string }>('SELECT max(oid)::text AS oid FROM pg_largeobject_metadata', [], 'shop');
    const err = await expectMissing(cfg);
    expect(err.details.missing).toEqual([`SELECT on large object ${newest?.oid} in database "shop"`]);
    psql(err.details.grantScript as string);
    await preflight(cfg, { clients });
    expect(await dumpSize(cfg)).toBeGreaterThan(1000);
  });

  it('scripts for a database whose name looks like a connection string and holds quotes apply to that database', async () => {
    const name = `host=127.0.0.2 dbname='x' "y"`;
    await cluster.createDatabase(name, 'owner1');
    await cluster.query(`REVOKE CONNECT ON DATABASE "${name.replace(/"/g, '""')}" FROM PUBLIC`);
    await cluster.query('SET ROLE owner1; CREATE TABLE odd (v text)', [], name);
    const cfg = { ...parsePgUrl(cluster.url('postgres', 'bk', 'bk-password-1')), database: name };
    const first = await expectMissing(cfg);
    expect(first.details.missing).toEqual([`CONNECT on database "host=127.0.0.2 dbname='x' ""y"""`]);
    psql(first.details.grantScript as string);
    const second = await expectMissing(cfg);
    expect(second.details.missing).toEqual([`SELECT on table "public"."odd" in database "host=127.0.0.2 dbname='x' ""y"""`]);
    psql(second.details.grantScript as string);
    expect((await preflight(cfg, { clients })).databases.map((d) => d.name)).toEqual([name]);
    await cluster.dropDatabase(name);
  });

  it('whole server: lists every non-template database minus exclusions, and warns about a superuser', async () => {
    await cluster.createRole('azure_pg_admin', 'azure-pw-1', 'NOLOGIN');
    await cluster.createDatabase('azure_sys', 'azure_pg_admin');
    await cluster.createDatabase('scratch');
    const su = parsePgUrl(cluster.url('postgres'));
    const names = (await listDatabases(su, {})).map((d) => d.name);
    expect(names).toEqual(['azure_sys', 'postgres', 'scratch', 'shop']);
    const filtered = await listDatabases(su, { excludeNames: ['scratch'], azureDefaults: true });
    expect(filtered.map((d) => d.name)).toEqual(['postgres', 'shop']);
    expect((await listDatabases(su, { excludeOwners: ['owner1'] })).map((d) => d.name)).toEqual(['azure_sys', 'postgres', 'scratch']);

    const report = await preflight(su, { clients, wholeServer: true, excludeDatabases: ['scratch'], azureDefaults: true });
    expect(report.databases.map((d) => d.name)).toEqual(['postgres', 'shop']);
    expect(report.totalSizeBytes).toBe(report.databases.reduce((n, d) => n + (d.sizeBytes ?? 0), 0));
    expect(report.pgDumpall?.tool).toBe('pg_dumpall');
    expect(report.role.superuser).toBe(true);
    expect(report.warnings.join(' ')).toMatch(/superuser: a compromised database can run code as the dumping role/);
  });

  it('whole server as a plain role: missing CONNECT on a database and the objects created after its exact grants', async () => {
    await cluster.createDatabase('closed');
    await cluster.query('REVOKE CONNECT ON DATABASE closed FROM PUBLIC');
    const cfg = parsePgUrl(cluster.url('postgres', 'bk', 'bk-password-1'));
    const err = await preflight(cfg, { clients, wholeServer: true, excludeDatabases: ['azure_sys', 'scratch'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorMissingDBPermissions);
    // "bk" got exact grants (first test), not default privileges: what was created since (by "bk2"'s tests) is missing too.
    const [newest] = await cluster.query<{ oid: string }>('SELECT max(oid)::text AS oid FROM pg_largeobject_metadata', [], 'shop');
    expect((err as UserErrorMissingDBPermissions).details.missing).toEqual([
      'CONNECT on database "closed"',
      'USAGE on schema "later" in database "shop"',
      'SELECT on table "billing"."by_newcomer" in database "shop"',
      'SELECT on sequence "billing"."by_newcomer_id_seq" in database "shop"',
      'SELECT on table "later"."things" in database "shop"',
      'SELECT on sequence "later"."things_id_seq" in database "shop"',
      'SELECT on table "public"."also_by_newcomer" in database "shop"',
      'SELECT on table "public"."more_items" in database "shop"',
      `SELECT on large object ${newest?.oid} in database "shop"`,
    ]);
  });
  it('an owner as backup role: FORCE ROW LEVEL SECURITY still needs BYPASSRLS; an RLS partitioned parent (pg_dump reads its partitions) does not', async () => {
    await cluster.createRole('appown', 'appown-pw-1', 'LOGIN');
    await cluster.createDatabase('rlsdb', 'appown');
    await cluster.query(
      `SET ROLE appown;
       CREATE TABLE tenant_data (tenant text, v int);
       INSERT INTO tenant_data VALUES ('a', 1), ('b', 2);
       ALTER TABLE tenant_data ENABLE ROW LEVEL SECURITY;
       ALTER TABLE tenant_data FORCE ROW LEVEL SECURITY;
       CREATE POLICY mine ON tenant_data USING (tenant = current_setting('app.tenant', true));
       CREATE TABLE events (at date, v int) PARTITION BY RANGE (at);
       CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       INSERT INTO events VALUES ('2026-05-01', 1);
       ALTER TABLE events ENABLE ROW LEVEL SECURITY;
       CREATE POLICY recent ON events USING (at > '2026-06-01');`,
      [],
      'rlsdb',
    );
    const cfg = parsePgUrl(cluster.url('rlsdb', 'appown', 'appown-pw-1'));
    const err = await expectMissing(cfg);
    expect(err.details.missing).toEqual(['BYPASSRLS (table "public"."tenant_data" in database "rlsdb" has row-level security)']);
    // What pre-flight says is what pg_dump does: it fails on the forced table as its owner …
    const failing = spawnPgDump(cfg, { client: pickClient(clients, 'pg_dump', 13) });
    failing.stdout.resume();
    await expect(failing.done).rejects.toThrow();
    expect(failing.log.join('\n')).toMatch(/row-level security/);
    // … and succeeds with BYPASSRLS, the partitioned parent's policy notwithstanding.
    psql('ALTER ROLE appown BYPASSRLS;');
    expect((await preflight(cfg, { clients })).warnings).toEqual([]);
    expect(await dumpSize(cfg)).toBeGreaterThan(1000);

    // A reader that owns nothing: the forced table needs BYPASSRLS, the partitioned parent does not (pg_dump copies
    // its partition, which has no policy); without the forced table its dump succeeds.
    await cluster.createRole('evreader', 'evreader-pw-1', 'LOGIN');
    psql('GRANT CONNECT ON DATABASE rlsdb TO evreader;');
    psql('GRANT SELECT ON tenant_data, events, events_2026 TO evreader;', 'rlsdb');
    const reader = parsePgUrl(cluster.url('rlsdb', 'evreader', 'evreader-pw-1'));
    expect((await expectMissing(reader)).details.missing).toEqual(['BYPASSRLS (table "public"."tenant_data" in database "rlsdb" has row-level security)']);
    const dump = spawnPgDump(reader, { client: pickClient(clients, 'pg_dump', 13), extraArgs: ['--exclude-table=public.tenant_data'] });
    dump.stdout.resume();
    await dump.done;
  });
  it('the full script run by an owner that is no superuser grants what it may and warns for the rest, instead of rolling back', async () => {
    await cluster.createRole('bk3', 'bk3-password-1', 'LOGIN');
    await cluster.query('CREATE TABLE public.admin_only (x int)', [], 'shop'); // the superuser's, in owner1's database
    try {
      const script = await fullGrantScript(parsePgUrl(cluster.url('shop')), { role: 'bk3' });
      const res = spawnSync('psql', ['-X', '-q', '-d', `host=127.0.0.1 port=${cluster.port} user=owner1 dbname=postgres`], {
        input: script,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: 'owner1-pw' },
      });
      expect(res.status, res.stderr).toBe(0);
      expect(res.stderr).not.toMatch(/ERROR/);
      expect(res.stderr).toMatch(/WARNING: {2}pgvault: permission denied for table admin_only/);
      expect(res.stderr).toMatch(/WARNING: {2}pgvault: only a superuser can run ALTER ROLE bk3 BYPASSRLS/);
      const granted = await cluster.query(
        `SELECT has_schema_privilege('bk3', 'billing', 'USAGE') AS schema, has_table_privilege('bk3', 'billing.invoices', 'SELECT') AS invoices,
                has_table_privilege('bk3', 'public.items', 'SELECT') AS items, has_table_privilege('bk3', 'public.admin_only', 'SELECT') AS admin_only`,
        [],
        'shop',
      );
      expect(granted).toEqual([{ schema: true, invoices: true, items: true, admin_only: false }]);
    } finally {
      await cluster.query('DROP TABLE public.admin_only', [], 'shop');
    }
  });
  it('whole server: a database with lo_compat_privileges = on of its own needs no grants on its large objects', async () => {
    await cluster.createDatabase('lodb');
    const [lo] = await cluster.query<{ oid: string }>("SELECT lo_from_bytea(0, 'x')::text AS oid", [], 'lodb');
    const cfg = parsePgUrl(cluster.url('postgres', 'bk', 'bk-password-1'));
    const missingOf = async (): Promise<string[]> =>
      ((await preflight(cfg, { clients, wholeServer: true }).catch((e: unknown) => e)) as UserErrorMissingDBPermissions).details.missing as string[];
    try {
      expect(await missingOf()).toContain(`SELECT on large object ${lo!.oid} in database "lodb"`);
      await cluster.query('ALTER DATABASE lodb SET lo_compat_privileges = on');
      expect(await missingOf()).not.toContain(`SELECT on large object ${lo!.oid} in database "lodb"`);
    } finally {
      await cluster.dropDatabase('lodb');
    }
  });

  it("an extension's configuration table needs SELECT (pg_dump reads its rows); its other member tables do not", async () => {
    await cluster.createDatabase('extdb');
    await cluster.createRole('bk4', 'bk4-password-1', 'LOGIN');
    try {
      // What pg_extension_config_dump() records, done by hand: no extension on this machine has a configuration
      // table. pg_dump then dumps the extension as CREATE EXTENSION, and ext_settings' rows as table data.
      await cluster.query(
        `CREATE EXTENSION citext;
         CREATE TABLE public.ext_settings (k text PRIMARY KEY, v text);
         INSERT INTO public.ext_settings VALUES ('mode', 'strict');
         CREATE TABLE public.ext_cache (k text);
         ALTER EXTENSION citext ADD TABLE public.ext_settings;
         ALTER EXTENSION citext ADD TABLE public.ext_cache;
         UPDATE pg_extension SET extconfig = ARRAY['public.ext_settings'::regclass::oid], extcondition = ARRAY['']
          WHERE extname = 'citext';`,
        [],
        'extdb',
      );
      const cfg = parsePgUrl(cluster.url('extdb', 'bk4', 'bk4-password-1'));
      const err = await expectMissing(cfg);
      expect(err.details.missing).toEqual(['SELECT on table "public"."ext_settings" in database "extdb"']);
      // pg_dump agrees: without the grant it fails on that very table.
      const refused = spawnPgDump(cfg, { client: pickClient(clients, 'pg_dump', 13) });
      (refused.stdout as Readable).resume();
      await expect(refused.done).rejects.toMatchObject({ message: expect.stringMatching(/ext_settings/) });

      psql(err.details.grantScript as string);
      await preflight(cfg, { clients });
      const dump = spawnPgDump(cfg, { client: pickClient(clients, 'pg_dump', 13) });
      const parts: Buffer[] = [];
      for await (const c of dump.stdout as Readable) parts.push(c as Buffer);
      await dump.done;
      const archive = Buffer.concat(parts);
      expect(archive.includes('mode\tstrict')).toBe(true);
    } finally {
      await cluster.dropDatabase('extdb');
      await cluster.query('DROP ROLE bk4');
    }
  });
});
