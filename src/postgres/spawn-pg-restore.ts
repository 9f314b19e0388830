/** The restore runner: pg_restore of a custom-format archive from stdin (or a local file) into a database, or
 *  its table of contents / SQL to stdout. Connection as in spawn-pg-dump.ts: one quoted conninfo string, the
 *  password in a private password file. It must never put a secret in argv and never restore from stdin in
 *  parallel (pg_restore cannot seek a pipe). */
import { UserErrorInvalidInput } from '../lib/index.ts';
import type { PgClient } from './discover-clients.ts';
import { toConninfo, type PgConnectionConfig } from './pg-connection-config.ts';
import { spawnPgTool, type PgToolProcess, type PgToolProgress } from './pg-tool-process.ts';

export type PgRestoreSection = 'pre-data' | 'data' | 'post-data';

export interface SpawnPgRestoreOptions {
  /** The target database (must exist unless `create`); defaults to cfg.database. With `create`, the database
   *  pg_restore first connects to (e.g. "postgres"); the archive's own name is created. */
  database?: string;
  client: PgClient;
  /** What to produce: restore into the database (default), the archive's table of contents (--list) or the SQL
   *  script on stdout. 'toc' and 'sql' do not connect. */
  mode?: 'database' | 'toc' | 'sql';
  /** Read the archive from this local file instead of stdin (needed for jobs > 1). */
  file?: string;
  /** Parallel jobs (-j); needs `file`. */
  jobs?: number;
  /** A TOC list file (--use-list) selecting and ordering the items to restore (item-level restore). */
  list?: string;
  section?: PgRestoreSection | PgRestoreSection[];
  /** --no-owner: objects belong to the restoring role. */
  noOwner?: boolean;
  /** --no-privileges (-x): skip GRANT/REVOKE. */
  noPrivileges?: boolean;
  /** --no-tablespaces: every object in the database's default tablespace. */
  noTablespaces?: boolean;
  /** --role: SET ROLE to this role after connecting. */
  role?: string;
  /** --create: create the archive's database first. */
  create?: boolean;
  /** --clean --if-exists: drop objects before recreating them. */
  clean?: boolean;
  /** --exit-on-error: stop at the first error instead of going on. */
  exitOnError?: boolean;
  /** --single-transaction (not with jobs). */
  singleTransaction?: boolean;
  /** The archive's encoding (its ENCODING entry): pg_restore writes the TOC's names and the server's messages (its
   *  client_encoding is the archive's) in it, and its log lines are decoded from it. */
  encoding?: string;
  signal?: AbortSignal;
  onProgress?: (p: PgToolProgress) => void;
  /** pg_restore exits 1 when it went on after errors; return true to accept them (see missingRoles()). */
  acceptErrors?: (errors: string[]) => boolean;
  /** Further options (--schema, --table, --disable-triggers …); connection and input options are refused. */
  extraArgs?: string[];
}

const reservedArgs = /^(-[dhpUWwfFlLjC1]|--(dbname|host|port|username|password|no-password|file|format|list|use-list|jobs|create|single-transaction)(=|$))/;

/** Starts pg_restore. Reads the archive from `stdin` unless `file` is given. */
export function spawnPgRestore(cfg: PgConnectionConfig, opts: SpawnPgRestoreOptions): PgToolProcess {
  const extra = opts.extraArgs ?? [];
  for (const arg of extra) {
    if (reservedArgs.test(arg)) {
      throw new UserErrorInvalidInput(`the pg_restore option "${arg}" is set by pgvault and cannot be given`, {
        hint: 'Use the typed options (jobs, list, create, …); pass only selection options such as --schema or --table.',
        details: { field: 'extraArgs', option: arg },
      });
    }
  }
  const jobs = opts.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new UserErrorInvalidInput(`restore jobs must be a whole number of at least 1, not ${String(opts.jobs)}`, { hint: 'Use e.g. jobs: 2.', details: { field: 'jobs' } });
  }
  if (jobs > 1 && opts.file === undefined) {
    throw new UserErrorInvalidInput('a parallel restore (jobs > 1) needs the archive in a local file', {
      hint: 'pg_restore cannot restore in parallel from a pipe: spool the archive to a file first, or restore with jobs: 1.',
      details: { field: 'jobs' },
    });
  }
  if (jobs > 1 && opts.singleTransaction) {
    throw new UserErrorInvalidInput('a parallel restore cannot run in a single transaction', { hint: 'Choose jobs: 1 or singleTransaction: false.', details: { field: 'singleTransaction' } });
  }
  const mode = opts.mode ?? 'database';
  const database = opts.database ?? cfg.database;
  const args = ['--verbose', '--no-password'];
  if (mode === 'database') args.push(`--dbname=${toConninfo(cfg, { database })}`);
  else if (mode === 'toc') args.push('--list');
  else args.push('--file=-');
  if (jobs > 1) args.push(`--jobs=${jobs}`);
  if (opts.list !== undefined) args.push(`--use-list=${opts.list}`);
  for (const s of opts.section === undefined ? [] : Array.isArray(opts.section) ? opts.section : [opts.section]) args.push(`--section=${s}`);
  if (opts.noOwner) args.push('--no-owner');
  if (opts.noPrivileges) args.push('--no-privileges');
  if (opts.noTablespaces) args.push('--no-tablespaces');
  if (opts.role !== undefined) args.push(`--role=${opts.role}`);
  if (opts.create) args.push('--create');
  if (opts.clean) args.push('--clean', '--if-exists');
  if (opts.exitOnError) args.push('--exit-on-error');
  if (opts.singleTransaction) args.push('--single-transaction');
  args.push('--format=custom', ...extra);
  if (opts.file !== undefined) args.push('--', opts.file);
  return spawnPgTool({
    tool: 'pg_restore',
    client: opts.client,
    cfg: { ...cfg, database },
    args,
    useStdin: opts.file === undefined,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.acceptErrors ? { acceptErrors: opts.acceptErrors } : {}),
    ...(opts.encoding ? { stderrEncoding: opts.encoding } : {}),
  });
}

/** The roles that pg_restore reported missing (`role "x" does not exist`) among its error lines: the ACL and
 *  ownership entries naming them were skipped. */
export function missingRoles(errors: readonly string[]): string[] {
  const out = new Set<string>();
  for (const line of errors) {
    for (const m of line.matchAll(/role "((?:[^"]|"")+)" does not exist/g)) if (m[1]) out.add(m[1].replace(/""/g, '"'));
  }
  return [...out];
}

/** True when every error is about a missing role (a restore that should go on, reporting the roles). */
export function onlyMissingRoleErrors(errors: readonly string[]): boolean {
  const report = restoreRoleIssues(errors);
  return report.other.length === 0 && report.missingRoles.length > 0 && report.skipped.every((s) => s.reason === 'missing role');
}

/** True when every error is about roles: missing ones, or ownership the restoring (non-superuser) role may not
 *  give away (`must be able to SET ROLE "postgres"` on 16+, `must be member of role` before). Objects stay owned
 *  by the restoring role and the named GRANTs are skipped; the data is complete. */
export function onlyRoleErrors(errors: readonly string[]): boolean {
  const report = restoreRoleIssues(errors);
  return report.other.length === 0 && report.skipped.length > 0;
}

/** pg_restore's error lines sorted out: the missing roles, each statement skipped because of a role (with why),
 *  and every other error. */
export function restoreRoleIssues(errors: readonly string[]): {
  missingRoles: string[];
  skipped: { statement: string; reason: 'missing role' | 'ownership not transferable' }[];
  other: string[];
} {
  const skipped: { statement: string; reason: 'missing role' | 'ownership not transferable' }[] = [];
  const other: string[] = [];
  for (let i = 0; i < errors.length; i++) {
    const line = errors[i] as string;
    if (!/^pg_restore: error: /.test(line)) continue;
    const next = errors[i + 1];
    const statement = next !== undefined && next.startsWith('Command was: ') ? next.slice('Command was: '.length) : '';
    if (/role "(?:[^"]|"")+" does not exist/.test(line)) skipped.push({ statement, reason: 'missing role' });
    else if (/must be able to SET ROLE|must be member of role/.test(line)) skipped.push({ statement, reason: 'ownership not transferable' });
    else other.push(line);
  }
  return { missingRoles: missingRoles(errors), skipped, other };
}
