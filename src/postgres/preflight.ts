/** Pre-flight for a datasource and its credentials, before any pg_dump runs: connects (libpq options honoured),
 *  reads the server version and picks a pg_dump that can dump it, sizes the databases, and finds every privilege
 *  the role lacks for a logical backup (CONNECT, USAGE, SELECT on tables and sequences, large objects, RLS), with
 *  the GRANT script that fixes exactly them. Read-only: it must never change anything on the server. */
import type pg from 'pg';
import { discoverClients, pickClient, type PgClient, type PgClientSet } from './discover-clients.ts';
import { connect, withConnection } from './connect.ts';
import { describeMissing, grantScript, grantsForMissing, quoteIdent, type MissingPrivilege } from './grant-script.ts';
import { queryDatabases, type DatabaseInfo, type ListDatabasesOptions } from './list-databases.ts';
import { describeTarget, withDatabase, type PgConnectionConfig } from './pg-connection-config.ts';
import { UserErrorDatabaseNotFound, UserErrorMissingDBPermissions } from './pg-errors.ts';

export interface PreflightOptions {
  /** A whole-server datasource: every database (see listDatabases) plus the globals; cfg.database is only the
   *  database to connect to first. */
  wholeServer?: boolean;
  excludeDatabases?: string[];
  excludeOwners?: string[];
  /** Exclude Azure's service databases (owners azuresu, azure_pg_admin). */
  azureDefaults?: boolean;
  /** Discovered clients; discovered afresh when absent. */
  clients?: PgClientSet;
}

export interface PreflightReport {
  server: { version: string; versionNum: number; major: number };
  role: { name: string; superuser: boolean; readAllData: boolean };
  /** The databases to back up, with size and encoding (one for a single-database datasource). */
  databases: DatabaseInfo[];
  totalSizeBytes: number;
  pgDump: PgClient;
  /** For whole-server datasources: the pg_dumpall that dumps the globals. */
  pgDumpall?: PgClient;
  warnings: string[];
}

interface ServerFacts {
  version: string;
  versionNum: number;
  role: string;
  superuser: boolean;
  readAllData: boolean;
  /** The language of the server's messages for this session. */
  lcMessages: string;
}

async function serverFacts(client: pg.Client): Promise<ServerFacts> {
  const v = await client.query<{ v: string; num: string }>("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS num");
  const versionNum = Number(v.rows[0]?.num);
  const readAll = versionNum >= 140000 ? "pg_has_role('pg_read_all_data', 'USAGE')" : 'false';
  const r = await client.query<{ role: string; superuser: boolean; read_all: boolean; lc_messages: string }>(
    `SELECT current_user AS role, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            ${readAll} AS read_all, current_setting('lc_messages') AS lc_messages`,
  );
  const row = r.rows[0];
  return {
    version: (v.rows[0]?.v ?? '').split(' ')[0] ?? '',
    versionNum,
    role: row?.role ?? '',
    superuser: row?.superuser === true,
    readAllData: row?.read_all === true,
    lcMessages: row?.lc_messages ?? '',
  };
}

const maxListedLargeObjects = 1000;
const userSchema = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'";
/** Extension members are recreated by CREATE EXTENSION, not dumped, except the extension's configuration tables. */
const notExtensionMember = (classid: string, oid: string): string =>
  `(NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')` +
  (classid === 'pg_class' ? ` OR EXISTS (SELECT 1 FROM pg_extension x WHERE ${oid} = ANY (x.extconfig)))` : ')');

/** The privileges the connected role lacks in the connected database, in a stable order. */
async function missingInDatabase(client: pg.Client, database: string, facts: ServerFacts): Promise<MissingPrivilege[]> {
  if (facts.superuser) return [];
  const missing: MissingPrivilege[] = [];
  if (!facts.readAllData) {
    const schemas = await client.query<{ schema: string }>(
      `SELECT n.nspname AS schema FROM pg_namespace n
        WHERE ${userSchema} AND NOT has_schema_privilege(n.oid, 'USAGE') AND ${notExtensionMember('pg_namespace', 'n.oid')}
        ORDER BY 1`,
    );
    for (const s of schemas.rows) missing.push({ kind: 'usage', database, schema: s.schema });
    const rels = await client.query<{ schema: string; name: string; relkind: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'S') AND ${userSchema} AND NOT has_table_privilege(c.oid, 'SELECT') AND ${notExtensionMember('pg_class', 'c.oid')}
        ORDER BY 1, 2`,
    );
    for (const t of rels.rows) missing.push({ kind: 'select', database, schema: t.schema, name: t.name, objectType: t.relkind === 'S' ? 'sequence' : 'table' });
  }
  // Row-level security: pg_dump sets row_security = off and fails on a table whose policies apply to the role: one
  // it does not own, or one it owns with FORCE ROW LEVEL SECURITY. Only tables it reads (relkind r): the COPY of a
  // partition does not meet its partitioned parent's policies.
  const bypass = await client.query<{ bypass: boolean }>('SELECT rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user');
  if (bypass.rows[0]?.bypass !== true) {
    const rls = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relrowsecurity AND ${userSchema} AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
          AND ${notExtensionMember('pg_class', 'c.oid')}
        ORDER BY 1, 2`,
    );
    for (const t of rls.rows) missing.push({ kind: 'bypassrls', database, schema: t.schema, name: t.name });
  }
  // Per database: ALTER DATABASE … SET lo_compat_privileges = on applies to one database only.
  const loCompat = (await client.query<{ on: string }>("SELECT current_setting('lo_compat_privileges') AS on")).rows[0]?.on === 'on';
  if (!loCompat) {
    // pg_dump reads every large object; neither pg_read_all_data nor default privileges (before 18) cover them.
    const unreadable = `NOT pg_has_role(m.lomowner, 'USAGE') AND NOT EXISTS (SELECT 1 FROM aclexplode(coalesce(m.lomacl, acldefault('L', m.lomowner))) a
        WHERE a.privilege_type = 'SELECT' AND (a.grantee = 0 OR pg_has_role(a.grantee, 'USAGE')))`;
    const los = await client.query<{ oid: string; total: string }>(
      `SELECT m.oid::text AS oid, count(*) OVER () AS total FROM pg_largeobject_metadata m WHERE ${unreadable} ORDER BY m.oid LIMIT ${maxListedLargeObjects + 1}`,
    );
    const total = Number(los.rows[0]?.total ?? 0);
    if (total > maxListedLargeObjects) missing.push({ kind: 'largeobjects', database, count: total });
    else for (const lo of los.rows) missing.push({ kind: 'largeobject', database, oid: Number(lo.oid) });
  }
  return missing;
}

/** Checks a datasource before a backup. Throws UserErrorPgDumpTooOld (no fitting pg_dump), connection errors
 *  (UserErrorAuthenticationFailed, UserErrorDatabaseNotFound, UserErrorSslUnavailable, …) and
 *  UserErrorMissingDBPermissions with details.missing (exact objects) and details.grantScript (exactly their fix).
 *  A superuser passes with a warning. */
export async function preflight(cfg: PgConnectionConfig, opts: PreflightOptions = {}): Promise<PreflightReport> {
  const missing: MissingPrivilege[] = [];
  let client: pg.Client;
  try {
    client = await connect(cfg);
  } catch (err) {
    if (err instanceof UserErrorMissingDBPermissions) throw permissionsError(cfg, [{ kind: 'connect', database: cfg.database }], true);
    throw err;
  }
  let facts: ServerFacts;
  let databases: DatabaseInfo[];
  try {
    facts = await serverFacts(client);
    const listOpts: ListDatabasesOptions = {
      ...(opts.excludeDatabases ? { excludeNames: opts.excludeDatabases } : {}),
      ...(opts.excludeOwners ? { excludeOwners: opts.excludeOwners } : {}),
      ...(opts.azureDefaults ? { azureDefaults: true } : {}),
    };
    const all = await queryDatabases(client, opts.wholeServer ? listOpts : {});
    databases = opts.wholeServer ? all : all.filter((d) => d.name === cfg.database);
    if (!opts.wholeServer && databases.length === 0) {
      throw new UserErrorDatabaseNotFound(`database "${cfg.database}" cannot be backed up: it is a template or does not accept connections`, {
        hint: 'Back up a regular database (ALTER DATABASE … ALLOW_CONNECTIONS true).',
        details: { database: cfg.database },
      });
    }
    if (!opts.wholeServer) missing.push(...(await missingInDatabase(client, cfg.database, facts)));
  } finally {
    await client.end().catch(() => undefined);
  }

  const major = Math.floor(facts.versionNum / 10000);
  const clients = opts.clients ?? (await discoverClients());
  const pgDump = pickClient(clients, 'pg_dump', major);
  const pgDumpall = opts.wholeServer ? pickClient(clients, 'pg_dumpall', major) : undefined;

  if (opts.wholeServer) {
    for (const db of databases) {
      if (!db.canConnect) {
        missing.push({ kind: 'connect', database: db.name });
        continue;
      }
      missing.push(...(await withConnection(withDatabase(cfg, db.name), (c) => missingInDatabase(c, db.name, facts))));
    }
  }
  if (missing.length > 0) throw permissionsError(cfg, missing, false);

  const warnings: string[] = [];
  if (facts.superuser) {
    warnings.push(
      `role "${facts.role}" is a superuser: a compromised database can run code as the dumping role (through functions ` +
        'that pg_dump calls, such as those in index expressions or custom types). Use a dedicated role with read-only grants (pgvault grants).',
    );
  }
  if (!/^(|C|POSIX|en)([._@-].*)?$/i.test(facts.lcMessages)) {
    warnings.push(
      `the server reports errors in lc_messages = '${facts.lcMessages}': pgvault tells connection failures apart in any language, ` +
        `but lock timeouts and other failures of a running dump only in English. A superuser can set it for this role alone: ` +
        `ALTER ROLE ${quoteIdent(facts.role)} SET lc_messages = 'C';`,
    );
  }
  const noConnect = databases.filter((d) => d.sizeBytes === null).map((d) => d.name);
  if (noConnect.length > 0 && missing.length === 0) warnings.push(`sizes unknown for ${noConnect.join(', ')}`);
  return {
    server: { version: facts.version, versionNum: facts.versionNum, major },
    role: { name: facts.role, superuser: facts.superuser, readAllData: facts.readAllData },
    databases,
    totalSizeBytes: databases.reduce((n, d) => n + (d.sizeBytes ?? 0), 0),
    pgDump,
    ...(pgDumpall ? { pgDumpall } : {}),
    warnings,
  };
}

function permissionsError(cfg: PgConnectionConfig, missing: MissingPrivilege[], connectOnly: boolean): UserErrorMissingDBPermissions {
  const script = grantsForMissing(cfg.user, missing);
  const listed = missing.map(describeMissing);
  const first = listed.slice(0, 3).join('; ');
  const more = listed.length > 3 ? ` and ${listed.length - 3} more` : '';
  const scriptLines = script.trimEnd().split('\n').length;
  return new UserErrorMissingDBPermissions(`role "${cfg.user}" lacks privileges for a backup of ${describeTarget(cfg)}: ${first}${more}`, {
    hint:
      (scriptLines <= 12 ? `Run as a superuser with psql:\n${script}` : 'Run the script in details.grantScript with psql as a superuser (or the full script: pgvault grants). ') +
      (connectOnly ? ' The objects inside the database can be checked once the role may connect: run the pre-flight check again.' : ''),
    details: { role: cfg.user, missing: listed, missingPrivileges: missing, grantScript: script },
  });
}

/** The full grant script (see grantScript) for `role` (default: cfg.user) on `cfg`'s server: reads the server's
 *  major version and the databases (cfg.database, or every included one for a whole server) over a connection
 *  with `cfg`, which may be the backup role itself (catalogs are readable by everyone). Read-only. */
export async function fullGrantScript(cfg: PgConnectionConfig, opts: Omit<PreflightOptions, 'clients'> & { role?: string; readAllData?: boolean } = {}): Promise<string> {
  const { major, names } = await withConnection(cfg, async (client) => {
    const v = await client.query<{ num: string }>("SELECT current_setting('server_version_num') AS num");
    const listOpts: ListDatabasesOptions = {
      ...(opts.excludeDatabases ? { excludeNames: opts.excludeDatabases } : {}),
      ...(opts.excludeOwners ? { excludeOwners: opts.excludeOwners } : {}),
      ...(opts.azureDefaults ? { azureDefaults: true } : {}),
    };
    const dbs = opts.wholeServer ? (await queryDatabases(client, listOpts)).map((d) => d.name) : [cfg.database];
    return { major: Math.floor(Number(v.rows[0]?.num) / 10000), names: dbs };
  });
  return grantScript(opts.role ?? cfg.user, {
    databases: names,
    serverMajor: major,
    ...(opts.readAllData === undefined ? {} : { readAllData: opts.readAllData }),
  });
}
