/** Recreates roles on a target server from a whole-server point's globals script (pg_dumpall --globals-only
 *  --no-role-passwords): only roles the target lacks are created, with their attributes, settings and
 *  memberships; existing roles are never altered, tablespaces never created (their paths belong to the source).
 *  What could not be applied is reported, never silently dropped. Roles come back without passwords. */
import { withConnection, type PgConnectionConfig } from '../postgres/index.ts';

export interface GlobalsReport {
  created: string[];
  /** Roles of the script that already existed on the target (left as they are). */
  existing: string[];
  /** Statements deliberately not applied (tablespaces, statements on existing roles). */
  notApplied: string[];
  /** Statements that failed on the target, with PostgreSQL's message. */
  failed: { statement: string; error: string }[];
  /** What created roles would have had but did not get: SUPERUSER, REPLICATION or BYPASSRLS, and membership in a
   *  superuser role or in pg_execute_server_program / pg_read_server_files / pg_write_server_files ("member of …").
   *  Withheld unless a superuser restores with `privileged` (a non-superuser may not give them at all). */
  withheld: { role: string; attributes: string[] }[];
}

export interface ApplyGlobalsOptions {
  /** Also give created roles the privileged attributes and memberships of the point (needs a superuser). Off by
   *  default: the globals come from the source server, and a role able to run code as the server's OS user
   *  should not appear on another server because a source said so. */
  privileged?: boolean;
}

/** Predefined roles whose members act as the server's OS user (files, programs). */
const serverSideRoles = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'];

/** Attributes only a superuser may set or even name in ALTER ROLE (13–15: naming NOSUPERUSER needs one too). */
const superuserOnly = /\s(NO)?(SUPERUSER|REPLICATION|BYPASSRLS)\b/gi;

/** Splits a SQL script into statements at semicolons outside quotes, dropping comments and psql meta-commands. */
export function splitSqlScript(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      cur += '\n';
      continue;
    }
    if (ch === '\\' && (i === 0 || sql[i - 1] === '\n')) {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    if (ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const ident = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
function unquote(raw: string): string {
  return raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw.toLowerCase();
}

export async function applyGlobals(target: PgConnectionConfig, script: string, opts: ApplyGlobalsOptions = {}): Promise<GlobalsReport> {
  const report: GlobalsReport = { created: [], existing: [], notApplied: [], failed: [], withheld: [] };
  const statements = splitSqlScript(script);
  await withConnection(target, async (c) => {
    const [me] = (await c.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user')).rows;
    const superuser = me?.rolsuper === true;
    const givePrivileges = superuser && opts.privileged === true;
    // Privileged: a superuser, a server-side role, or a role that is a member of one, directly or through others.
    const roles = (
      await c.query<{ rolname: string; privileged: boolean }>(
        `SELECT r.rolname, r.rolsuper OR EXISTS (
                  SELECT 1 FROM pg_catalog.pg_roles p
                   WHERE p.oid <> r.oid AND (p.rolsuper OR p.rolname = ANY ($1)) AND pg_catalog.pg_has_role(r.oid, p.oid, 'MEMBER')) AS privileged
           FROM pg_catalog.pg_roles r`,
        [serverSideRoles],
      )
    ).rows;
    const existing = new Set(roles.map((r) => r.rolname));
    const privilegedRoles = new Set([...roles.filter((r) => r.privileged).map((r) => r.rolname), ...serverSideRoles]);
    const withhold = (role: string, what: string[]): void => {
      const entry = report.withheld.find((w) => w.role === role);
      if (entry) entry.attributes.push(...what);
      else report.withheld.push({ role, attributes: [...what] });
    };
    const created = new Set<string>();
    const run = async (sql: string): Promise<boolean> => {
      try {
        await c.query(sql);
        return true;
      } catch (err) {
        report.failed.push({ statement: sql, error: err instanceof Error ? err.message : String(err) });
        return false;
      }
    };
    for (const st of statements) {
      const createRole = new RegExp(String.raw`^CREATE\s+ROLE\s+${ident}\s*$`, 'i').exec(st);
      const alterRole = new RegExp(String.raw`^ALTER\s+ROLE\s+${ident}\s`, 'i').exec(st);
      const grant = new RegExp(String.raw`^GRANT\s+${ident}\s+TO\s+${ident}`, 'i').exec(st);
      const comment = new RegExp(String.raw`^(?:COMMENT\s+ON|SECURITY\s+LABEL\s+(?:FOR\s+\S+\s+)?ON)\s+ROLE\s+${ident}`, 'i').exec(st);
      if (/^SET\s+client_encoding\b/i.test(st)) {
        // Role names live in shared catalogs with no encoding of their own: pg_dumpall passes their bytes through
        // (client encoding = its database's), and they are read back as UTF-8, which node-postgres speaks. Naming
        // the dump database's encoding here (LATIN1 …) would make the server convert them once more.
        continue;
      } else if (/^SET\s/i.test(st)) {
        await run(st);
      } else if (createRole) {
        const name = unquote(createRole[1]!);
        if (existing.has(name)) {
          report.existing.push(name);
        } else if (await run(st)) {
          created.add(name);
          report.created.push(name);
        }
      } else if (alterRole || comment) {
        const name = unquote((alterRole ?? comment)![1]!);
        if (!created.has(name)) report.notApplied.push(st);
        else if (alterRole && !givePrivileges && /\bWITH\b/i.test(st)) {
          // pg_dumpall names every attribute (WITH NOSUPERUSER INHERIT … NOREPLICATION NOBYPASSRLS). A CREATEROLE
          // non-superuser may not even name those three: the rest (LOGIN, CONNECTION LIMIT, VALID UNTIL …) is kept,
          // a new role lacks them anyway, and what it would have had is reported.
          // Only the options after the role's name are looked at: a quoted name may hold those words.
          const head = alterRole[0];
          const options = ` ${st.slice(head.length)}`;
          const given = [...options.matchAll(superuserOnly)].filter((m) => !m[1]).map((m) => m[2]!.toUpperCase());
          if (given.length > 0) withhold(name, given);
          const reduced = `${head}${options.replace(superuserOnly, '').trim()}`;
          if (!/\bWITH\s*$/i.test(reduced)) await run(reduced);
        } else await run(st);
      } else if (grant) {
        const [role, member] = [unquote(grant[1]!), unquote(grant[2]!)];
        if (!created.has(role) && !created.has(member)) report.notApplied.push(st);
        else if (!givePrivileges && created.has(member) && privilegedRoles.has(role)) withhold(member, [`member of ${role}`]);
        else {
          // GRANTED BY (pg_dumpall 16+) names the source's grantor: only a superuser may set another grantor on 13–15,
          // and the grantor may be missing here. Without it the restoring role is the grantor.
          const bare = st.replace(new RegExp(String.raw`\s+GRANTED\s+BY\s+${ident}`, 'i'), '');
          if (!superuser || bare === st) await run(bare);
          else {
            try {
              await c.query(st);
            } catch {
              await run(bare);
            }
          }
        }
      } else {
        report.notApplied.push(st);
      }
    }
  });
  return report;
}
