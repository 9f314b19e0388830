/** The SQL that gives a backup role what pg_dump needs: the exact GRANTs for a list of missing privileges (what
 *  pre-flight reports), and the full script for a role (all existing objects, objects created later, large
 *  objects, or pg_read_all_data on 14+). Scripts are for psql (they \connect to each database).
 *  Pure: it builds text and quotes every identifier; it must never grant more than a read-only backup needs. */

/** One privilege the backup role lacks. Persisted in job details: never change a kind's meaning. */
export type MissingPrivilege =
  | { kind: 'connect'; database: string }
  | { kind: 'usage'; database: string; schema: string }
  | { kind: 'select'; database: string; schema: string; name: string; objectType: 'table' | 'sequence' }
  | { kind: 'largeobject'; database: string; oid: number }
  /** Too many large objects to list one by one: all those the role cannot read in this database. */
  | { kind: 'largeobjects'; database: string; count: number }
  /** A table with row-level security that the role neither owns nor may bypass: pg_dump refuses to dump it partially. */
  | { kind: 'bypassrls'; database: string; schema: string; name: string };

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A psql \connect to `database` that keeps host, port and user, and takes the name literally (psql would
 *  otherwise expand a name containing "=" into a connection string). */
export function psqlConnect(database: string): string {
  const conninfo = `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `\\connect -reuse-previous=on "${conninfo.replace(/"/g, '""')}"`;
}

/** A short, exact description: `SELECT on table "billing"."invoices" in database "app"`. */
export function describeMissing(m: MissingPrivilege): string {
  switch (m.kind) {
    case 'connect':
      return `CONNECT on database ${quoteIdent(m.database)}`;
    case 'usage':
      return `USAGE on schema ${quoteIdent(m.schema)} in database ${quoteIdent(m.database)}`;
    case 'select':
      return `SELECT on ${m.objectType} ${quoteIdent(m.schema)}.${quoteIdent(m.name)} in database ${quoteIdent(m.database)}`;
    case 'largeobject':
      return `SELECT on large object ${m.oid} in database ${quoteIdent(m.database)}`;
    case 'largeobjects':
      return `SELECT on ${m.count} large objects in database ${quoteIdent(m.database)}`;
    case 'bypassrls':
      return `BYPASSRLS (table ${quoteIdent(m.schema)}.${quoteIdent(m.name)} in database ${quoteIdent(m.database)} has row-level security)`;
  }
}

/** The SQL condition on pg_largeobject_metadata `lo` for "a large object the role cannot read" (works on 13–17;
 *  has_largeobject_privilege() exists only from 17): neither owner nor granted SELECT, to the role or PUBLIC. */
function loUnreadableBy(roleLiteral: string): string {
  return (
    `NOT pg_has_role(${roleLiteral}, lo.lomowner, 'USAGE') AND NOT EXISTS (SELECT 1 FROM aclexplode(coalesce(lo.lomacl, acldefault('L', lo.lomowner))) a ` +
    `WHERE a.privilege_type = 'SELECT' AND (a.grantee = 0 OR pg_has_role(${roleLiteral}, a.grantee, 'USAGE')))`
  );
}

/** A DO block's lines with each EXECUTE in its own exception block: a statement its runner may not run (an object it
 *  neither owns nor may grant, a role it is no member of) is a WARNING naming it, and the others still apply,
 *  instead of one error rolling the whole block back. */
function doBlock(lines: string[]): string {
  return lines
    .map((l) => {
      const m = /^(\s*)EXECUTE (.*);$/.exec(l);
      return m ? `${m[1]}BEGIN EXECUTE ${m[2]}; EXCEPTION WHEN insufficient_privilege THEN RAISE WARNING 'pgvault: %', SQLERRM; END;` : l;
    })
    .join('\n');
}

function grantAllUnreadableLargeObjects(role: string): string {
  const lit = quoteLiteral(role);
  return doBlock([
    'DO $pgvault$',
    'DECLARE m record;',
    'BEGIN',
    `  FOR m IN SELECT lo.oid FROM pg_largeobject_metadata lo WHERE ${loUnreadableBy(lit)} LOOP`,
    `    EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO %I', m.oid, ${lit});`,
    '  END LOOP;',
    'END $pgvault$;',
  ]);
}

/** The GRANT statements that fix exactly `missing` for `role`, grouped by database, for psql. */
export function grantsForMissing(role: string, missing: readonly MissingPrivilege[]): string {
  const r = quoteIdent(role);
  const lines: string[] = [`-- pgvault: the privileges role ${r} lacks for a logical backup. Run with psql as the owner of the objects or a superuser.`];
  if (missing.some((m) => m.kind === 'bypassrls')) lines.push(`ALTER ROLE ${r} BYPASSRLS; -- needs a superuser`);
  const connects = missing.filter((m) => m.kind === 'connect');
  for (const m of connects) lines.push(`GRANT CONNECT ON DATABASE ${quoteIdent(m.database)} TO ${r};`);
  const byDb = new Map<string, MissingPrivilege[]>();
  for (const m of missing) if (m.kind !== 'connect' && m.kind !== 'bypassrls') byDb.set(m.database, [...(byDb.get(m.database) ?? []), m]);
  for (const [db, items] of byDb) {
    lines.push(psqlConnect(db));
    for (const m of items) {
      if (m.kind === 'usage') lines.push(`GRANT USAGE ON SCHEMA ${quoteIdent(m.schema)} TO ${r};`);
      else if (m.kind === 'select') lines.push(`GRANT SELECT ON ${m.objectType === 'sequence' ? 'SEQUENCE' : 'TABLE'} ${quoteIdent(m.schema)}.${quoteIdent(m.name)} TO ${r};`);
      else if (m.kind === 'largeobject') lines.push(`GRANT SELECT ON LARGE OBJECT ${m.oid} TO ${r};`);
      else if (m.kind === 'largeobjects') lines.push(grantAllUnreadableLargeObjects(role));
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface GrantScriptOptions {
  /** The databases the role is to back up (for a whole server: every included database). */
  databases: string[];
  /** The server's major version: on 14+ the script uses pg_read_all_data unless `readAllData: false`. */
  serverMajor?: number;
  readAllData?: boolean;
}

/** The full script for `role`: BYPASSRLS (pg_dump reads with row_security = off), CONNECT on each database, then
 *  either pg_read_all_data (14+) or, per database,
 *  USAGE on every schema and SELECT on every table and sequence, with default privileges for objects and schemas
 *  created later, by the roles that own something there and by every role that may create objects there (CREATE on
 *  the database or a schema) and that the runner may speak for; and SELECT on every large object (pg_read_all_data
 *  does not cover them).
 *  Large objects created later need new GRANTs before PostgreSQL 18 (pre-flight lists them); on 18+ default
 *  privileges cover them too. Async for future checks against a live server; it reads nothing today. */
export async function grantScript(role: string, opts: GrantScriptOptions): Promise<string> {
  const r = quoteIdent(role);
  const lit = quoteLiteral(role);
  const major = opts.serverMajor ?? 0;
  const readAll = (opts.readAllData ?? major >= 14) && major >= 14;
  const out: string[] = [
    `-- pgvault: privileges for logical backups (pg_dump) by role ${r}.`,
    '-- Run with psql as a superuser (or as the owners of the objects: what a runner may not grant is a WARNING); it grants read access only.',
  ];
  if (readAll) out.push(`GRANT pg_read_all_data TO ${r};`);
  // pg_dump reads every row with row_security = off: a table with policies, now or created later, fails the dump
  // unless the role bypasses them (pg_read_all_data does not). Only a superuser may give BYPASSRLS.
  out.push(
    'DO $pgvault$ BEGIN',
    `  EXECUTE format('ALTER ROLE %I BYPASSRLS', ${lit});`,
    'EXCEPTION WHEN insufficient_privilege THEN',
    `  RAISE WARNING 'pgvault: only a superuser can run ALTER ROLE % BYPASSRLS; without it pg_dump fails on tables with row-level security', ${lit};`,
    'END $pgvault$;',
  );
  for (const db of opts.databases) {
    out.push('', `-- database ${quoteIdent(db)}`, `GRANT CONNECT ON DATABASE ${quoteIdent(db)} TO ${r};`, psqlConnect(db));
    const body: string[] = ['DO $pgvault$', 'DECLARE s record; m record;', 'BEGIN'];
    if (!readAll) {
      body.push(
        "  FOR s IN SELECT n.nspname FROM pg_namespace n WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' LOOP",
        `    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s.nspname, ${lit});`,
        '  END LOOP;',
        '  -- One GRANT per table, view and sequence (what ON ALL TABLES / ALL SEQUENCES IN SCHEMA cover): an owner running',
        "  -- this grants its own objects even where a schema also holds another role's.",
        '  FOR s IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace',
        "      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' LOOP",
        `    EXECUTE format('GRANT SELECT ON %s TO %I', s.rel, ${lit});`,
        '  END LOOP;',
        '  -- Objects and schemas created later: by the roles that own objects here (or own the database), and by every',
        '  -- role that may create them here (CREATE on the database or on a schema; PUBLIC has it on public before 15)',
        '  -- that the one running this may speak for (all of them for a superuser).',
        '  FOR s IN SELECT DISTINCT r.rolname FROM pg_roles r WHERE r.rolname !~ \'^pg_\' AND (r.oid IN (',
        "      SELECT nspowner FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'",
        "      UNION SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
        '      UNION SELECT datdba FROM pg_database WHERE datname = current_database())',
        "    OR (pg_has_role(current_user, r.oid, 'MEMBER') AND (has_database_privilege(r.oid, current_database(), 'CREATE')",
        "      OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND has_schema_privilege(r.oid, n.oid, 'CREATE'))))) LOOP",
        `    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT ON TABLES TO %I', s.rolname, ${lit});`,
        `    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT ON SEQUENCES TO %I', s.rolname, ${lit});`,
        `    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT USAGE ON SCHEMAS TO %I', s.rolname, ${lit});`,
        ...(major >= 18 ? [`    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT ON LARGE OBJECTS TO %I', s.rolname, ${lit});`] : []),
        '  END LOOP;',
      );
    } else if (major >= 18) {
      // pg_read_all_data covers tables and sequences, never large objects: those created later need default privileges.
      body.push(
        '  -- Large objects created later by the roles that own objects here (or own the database).',
        '  FOR s IN SELECT DISTINCT r.rolname FROM pg_roles r WHERE r.rolname !~ \'^pg_\' AND r.oid IN (',
        "      SELECT lomowner FROM pg_largeobject_metadata",
        "      UNION SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
        '      UNION SELECT datdba FROM pg_database WHERE datname = current_database()) LOOP',
        `    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT ON LARGE OBJECTS TO %I', s.rolname, ${lit});`,
        '  END LOOP;',
      );
    }
    body.push(
      '  -- Large objects: pg_dump reads them, and neither pg_read_all_data nor (before 18) default privileges cover them.',
      `  FOR m IN SELECT lo.oid FROM pg_largeobject_metadata lo WHERE ${loUnreadableBy(lit)} LOOP`,
      `    EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO %I', m.oid, ${lit});`,
      '  END LOOP;',
      'END $pgvault$;',
    );
    out.push(doBlock(body));
  }
  if (major < 18) {
    out.push(
      '',
      '-- Large objects created after this script need their own GRANT SELECT ON LARGE OBJECT before PostgreSQL 18;',
      '-- pgvault\'s pre-flight check lists them with the exact statements (or a superuser may set lo_compat_privileges = on).',
    );
  }
  return `${out.join('\n')}\n`;
}
