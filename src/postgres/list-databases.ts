/** Which databases of a server a whole-server backup covers: every database that accepts connections, minus
 *  templates, invalid (half-dropped) databases and those excluded by name or owner (Azure's defaults on request).
 *  Read-only catalog queries on pgvault's own connection; it must never list a template. */
import type pg from 'pg';
import { withConnection } from './connect.ts';
import type { PgConnectionConfig } from './pg-connection-config.ts';

/** One database as seen from the backup role. sizeBytes is null when the role may not connect to it. */
export interface DatabaseInfo {
  name: string;
  owner: string;
  encoding: string;
  sizeBytes: number | null;
  /** The backup role holds CONNECT on it (directly, through PUBLIC or a role). */
  canConnect: boolean;
}

export interface ListDatabasesOptions {
  excludeNames?: string[];
  excludeOwners?: string[];
  /** Also exclude Azure Database for PostgreSQL's service databases: those owned by azuresu or azure_pg_admin. */
  azureDefaults?: boolean;
}

export const azureDefaultExcludedOwners: readonly string[] = ['azuresu', 'azure_pg_admin'];

const listSql = `
SELECT d.datname AS name, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
       has_database_privilege(d.oid, 'CONNECT') AS can_connect,
       CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'USAGE')
            THEN pg_database_size(d.oid) END AS size_bytes
  FROM pg_database d
 WHERE NOT d.datistemplate AND d.datallowconn AND d.datconnlimit <> -2
 ORDER BY d.datname`;

/** The databases on an open connection (see listDatabases). */
export async function queryDatabases(client: pg.Client, opts: ListDatabasesOptions = {}): Promise<DatabaseInfo[]> {
  const names = new Set(opts.excludeNames ?? []);
  const owners = new Set([...(opts.excludeOwners ?? []), ...(opts.azureDefaults ? azureDefaultExcludedOwners : [])]);
  const res = await client.query<{ name: string; owner: string; encoding: string; can_connect: boolean; size_bytes: string | null }>(listSql);
  return res.rows
    .filter((r) => !names.has(r.name) && !owners.has(r.owner))
    .map((r) => ({ name: r.name, owner: r.owner, encoding: r.encoding, canConnect: r.can_connect, sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes) }));
}

/** Every database a whole-server backup of `cfg`'s server includes, by name. Connects to cfg.database. */
export function listDatabases(cfg: PgConnectionConfig, opts: ListDatabasesOptions = {}): Promise<DatabaseInfo[]> {
  return withConnection(cfg, (client) => queryDatabases(client, opts));
}
