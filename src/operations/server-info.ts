/** What restore and backup need to know of a server before they start: its version, the connecting role's
 *  rights, the roles that exist and whether a database exists. Read-only queries through the postgres module. */
import { withConnection, type PgConnectionConfig } from '../postgres/index.ts';

export interface ServerInfo {
  version: string;
  versionNum: number;
  major: number;
  role: string;
  isSuperuser: boolean;
  canCreateDb: boolean;
  canCreateRole: boolean;
  /** The encoding of the database connected to (server_encoding). */
  encoding: string;
}

export async function serverInfo(cfg: PgConnectionConfig): Promise<ServerInfo> {
  return withConnection(cfg, async (c) => {
    const r = await c.query<{ v: string; n: string; role: string; super: boolean; createdb: boolean; createrole: boolean; enc: string }>(
      `SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n, current_user AS role,
              current_setting('server_encoding') AS enc,
              r.rolsuper AS super, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const row = r.rows[0]!;
    const versionNum = Number(row.n);
    return {
      version: row.v.split(' ')[0]!,
      versionNum,
      major: Math.floor(versionNum / 10000),
      role: row.role,
      isSuperuser: row.super,
      canCreateDb: row.createdb || row.super,
      canCreateRole: row.createrole || row.super,
      encoding: row.enc,
    };
  });
}

export async function roleNames(cfg: PgConnectionConfig): Promise<Set<string>> {
  return withConnection(cfg, async (c) => new Set((await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname)));
}


export interface DatabaseExclusions {
  /** Database names to leave out. */
  names?: string[];
  /** Leave out databases owned by these roles. */
  owners?: string[];
}

/** Azure Database for PostgreSQL's system databases, as Azure Backup leaves them out. */
export const azureDefaultExclusions: Required<DatabaseExclusions> = {
  names: ['azure_maintenance', 'azure_sys'],
  owners: ['azuresu', 'azure_pg_admin'],
};

/** Databases a whole-server backup includes: every connectable non-template database minus the exclusions, by name;
 *  and the others, each with why it is left out, for the job's log and the point's meta (nothing left out silently).
 *  An invalid database (datconnlimit = -2: a DROP DATABASE interrupted, 15.4/14.9/13.12 and later) is left out as
 *  list-databases.ts leaves it out: pg_dump cannot connect to it, and it would fail every run. */
export async function databasesToBackUp(
  cfg: PgConnectionConfig,
  exclude: DatabaseExclusions = {},
): Promise<{ included: string[]; skipped: { name: string; why: string }[]; encodings: Map<string, string> }> {
  return withConnection(cfg, async (c) => {
    const rows = (
      await c.query<{ datname: string; owner: string; datallowconn: boolean; datistemplate: boolean; invalid: boolean; enc: string }>(
        `SELECT d.datname, pg_get_userbyid(d.datdba) AS owner, d.datallowconn, d.datistemplate, d.datconnlimit = -2 AS invalid,
                pg_encoding_to_char(d.encoding) AS enc
           FROM pg_database d ORDER BY d.datname`,
      )
    ).rows;
    const names = new Set(exclude.names ?? []);
    const owners = new Set(exclude.owners ?? []);
    const included: string[] = [];
    const skipped: { name: string; why: string }[] = [];
    for (const r of rows) {
      // template0 and template1 are PostgreSQL's own: not worth a line in every log (while they are templates).
      if (r.datistemplate && (r.datname === 'template0' || r.datname === 'template1')) continue;
      const why = r.datistemplate
        ? 'a template'
        : r.invalid
          ? 'invalid (a DROP DATABASE was interrupted)'
          : !r.datallowconn
            ? 'it allows no connections (datallowconn = false)'
            : names.has(r.datname)
              ? 'excluded by name'
              : owners.has(r.owner)
                ? `excluded by owner "${r.owner}"`
                : undefined;
      if (why === undefined) included.push(r.datname);
      else skipped.push({ name: r.datname, why });
    }
    return { included, skipped, encodings: new Map(rows.map((r) => [r.datname, r.enc])) };
  });
}
