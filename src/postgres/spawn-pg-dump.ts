/** The dump runners: pg_dump of one database as an uncompressed custom-format archive on stdout, and pg_dumpall
 *  of the globals (roles without passwords, tablespaces, memberships, settings) as SQL on stdout.
 *  The database name reaches the tools only inside a quoted conninfo value, never as a connection string of its
 *  own; the password never reaches argv (see pg-tool-process.ts). */
import { UserErrorInvalidInput } from '../lib/index.ts';
import type { PgClient } from './discover-clients.ts';
import { quoteConninfoValue, toConninfo, type PgConnectionConfig } from './pg-connection-config.ts';
import { spawnPgTool, type PgToolProcess, type PgToolProgress } from './pg-tool-process.ts';

export interface SpawnPgDumpOptions {
  /** The database to dump; defaults to cfg.database. Any name is safe, including one that looks like a conninfo. */
  database?: string;
  client: PgClient;
  signal?: AbortSignal;
  onProgress?: (p: PgToolProgress) => void;
  /** --lock-wait-timeout: fail with UserErrorLockTimeout instead of waiting for a conflicting lock. */
  lockWaitTimeoutMs?: number;
  /** The database's encoding: pg_dump's client_encoding unless the connection options, the database, the role or
   *  the server's configuration set another. Its log lines (table names, the server's messages) are decoded from the
   *  connection options' client_encoding if set, else from this, until setStderrEncoding says otherwise. */
  encoding?: string;
  /** The caller reads the archive's TOC and passes its ENCODING entry to setStderrEncoding: without a client_encoding
   *  in the connection options, log lines wait for it (the table and the current-table progress of the log too). */
  holdLogUntilToc?: boolean;
  /** Further pg_dump options (--schema, --table, --exclude-table-data, --snapshot …). Options that choose the
   *  connection, the output or the format are refused: those belong to pgvault. */
  extraArgs?: string[];
}

export interface SpawnPgDumpGlobalsOptions {
  client: PgClient;
  signal?: AbortSignal;
  /** The database for pg_dumpall's first connection; defaults to cfg.database. */
  database?: string;
  extraArgs?: string[];
}

/** Options that would move the connection, the output or the format away from what pgvault decided. */
const reservedArgs = /^(-[dhpUWwfFZlL]|--(dbname|host|port|username|password|no-password|file|format|compress|database|globals-only|roles-only|tablespaces-only|role|no-role-passwords)(=|$))/;

function checkExtraArgs(tool: string, args: readonly string[]): void {
  for (const arg of args) {
    if (reservedArgs.test(arg)) {
      throw new UserErrorInvalidInput(`the ${tool} option "${arg}" is set by pgvault and cannot be given`, {
        hint: 'Connection, output and format options come from the datasource; pass only selection options such as --schema or --exclude-table.',
        details: { field: 'extraArgs', option: arg },
      });
    }
  }
}

/* Why a conninfo string and not the database name as an argument: libpq expands the dbname argument of pg_dump,
 * pg_dumpall -l and pg_restore -d into a connection string when it contains "=" or starts with postgres(ql)://
 * ("expand_dbname"), so a database named `host=127.0.0.2 dbname=x` would otherwise redirect the tool. We pass one
 * conninfo string whose every value is single-quoted (quoteConninfoValue): libpq parses it once, takes the quoted
 * dbname literally, and expands only the outermost dbname, never a value found inside it. Keyword order makes
 * later entries win, and pgvault sets no -h/-p/-U, so this string alone decides host, port, user and database.
 * The environment cannot interfere either: the child gets no PG* variables (pg-tool-process.ts). */

/** Starts `pg_dump --format=custom --compress=0 --verbose` for one database, the archive on stdout.
 *  Progress: bytes written and the table whose data is being dumped (from --verbose). */
export function spawnPgDump(cfg: PgConnectionConfig, opts: SpawnPgDumpOptions): PgToolProcess {
  const extra = opts.extraArgs ?? [];
  checkExtraArgs('pg_dump', extra);
  const args = ['--format=custom', '--compress=0', '--verbose', '--no-password', `--dbname=${toConninfo(cfg, { database: opts.database ?? cfg.database })}`];
  if (opts.lockWaitTimeoutMs !== undefined) args.push(`--lock-wait-timeout=${Math.max(1, Math.round(opts.lockWaitTimeoutMs))}`);
  args.push(...extra);
  const asked = cfg.options?.client_encoding;
  const stderrEncoding = asked && asked.toLowerCase() !== 'auto' ? asked : opts.encoding;
  return spawnPgTool({
    tool: 'pg_dump',
    client: opts.client,
    cfg: { ...cfg, database: opts.database ?? cfg.database },
    args,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(stderrEncoding ? { stderrEncoding } : {}),
    // Without a client_encoding of its own the database's encoding is a guess (ALTER DATABASE/ROLE … SET
    // client_encoding, the server's configuration): the lines wait for the TOC's ENCODING entry when asked.
    ...(opts.holdLogUntilToc && !asked ? { holdStderrUntilEncoding: true } : {}),
  });
}

/** Starts `pg_dumpall --globals-only --no-role-passwords`: CREATE ROLE (no passwords), role settings, memberships
 *  and tablespaces as SQL on stdout. Runs as a non-superuser too (it reads pg_roles, not pg_authid). */
export function spawnPgDumpGlobals(cfg: PgConnectionConfig, opts: SpawnPgDumpGlobalsOptions): PgToolProcess {
  const extra = opts.extraArgs ?? [];
  checkExtraArgs('pg_dumpall', extra);
  const database = opts.database ?? cfg.database;
  const args = [
    '--globals-only', '--no-role-passwords', '--verbose', '--no-password',
    // pg_dumpall ignores the dbname of --dbname and expands -l: give -l a conninfo holding only the quoted name.
    `--dbname=${toConninfo(cfg, { database: false })}`,
    `--database=dbname=${quoteConninfoValue(database)}`,
    ...extra,
  ];
  return spawnPgTool({
    tool: 'pg_dumpall',
    client: opts.client,
    cfg: { ...cfg, database },
    args,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}
