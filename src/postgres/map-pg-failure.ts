/** Maps what PostgreSQL and its client tools say when they fail (server messages, libpq messages, pg_dump /
 *  pg_restore stderr, node-postgres errors) to pgvault's coded errors, each with a hint. Pure: text in, error out.
 *  It matches the English message texts (pg_dump runs with LC_ALL=C) and SQLSTATEs; it must never put a secret
 *  into the error (every text passes through redact() in PgvaultError, and the password is registered). */
import { redact, type PgvaultError } from '../lib/index.ts';
import { describeTarget, type PgConnectionConfig } from './pg-connection-config.ts';
import {
  installHint,
  TransientErrorConnectionLost,
  TransientErrorServerUnavailable,
  UserErrorAuthenticationFailed,
  UserErrorDatabaseNotFound,
  UserErrorLockTimeout,
  UserErrorMissingDBPermissions,
  UserErrorPgDumpTooOld,
  UserErrorPgToolFailed,
  UserErrorSslUnavailable,
  UserErrorSslVerificationFailed,
  UserErrorTargetOutOfDisk,
} from './pg-errors.ts';

/** What ran: a tool, or pgvault's own connection (pre-flight, listDatabases). */
export type PgActor = 'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'connection';

export interface PgFailureContext {
  actor: PgActor;
  cfg: PgConnectionConfig;
  /** The client tool's version, for the version-mismatch message. */
  clientVersion?: string;
}

const connectionLost = [
  /terminating connection due to (administrator command|conflict with recovery|idle-in-transaction timeout|idle-session timeout|unexpected postmaster exit)/,
  // On a hot standby the usual form is the statement's cancel (ERROR, 40001), not the session's end.
  /canceling statement due to conflict with recovery/,
  /server closed the connection unexpectedly/,
  /connection to server was lost/,
  /could not receive data from server/,
  /could not send data to server/,
  /SSL SYSCALL error/,
  /SSL connection has been closed unexpectedly/,
  /no connection to the server/,
  /Connection terminated unexpectedly/,
  /has encountered a connection error and is not queryable/,
  /\b(ECONNRESET|EPIPE)\b/,
];

const unavailable = [
  /Connection refused/,
  /\bECONNREFUSED\b|\bETIMEDOUT\b|\bEHOSTUNREACH\b|\bENETUNREACH\b|\bENOTFOUND\b|\bEAI_AGAIN\b/,
  /could not translate host name/,
  /timeout expired/,
  /Connection terminated due to connection timeout/,
  /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections|not accepting connections)/,
  /sorry, too many clients already/,
  /remaining connection slots are reserved/,
  /No route to host|Network is unreachable/,
  // A server on a Unix socket that is not running: libpq 14+ and 13 word it differently; node-postgres says ENOENT.
  /connection to server on socket "[^"]*" failed: No such file or directory/,
  /could not connect to server: No such file or directory/,
  /\bENOENT\b.*\.s\.PGSQL\.\d+/,
];

const authFailed = [
  /password authentication failed for user/,
  /no pg_hba\.conf entry for/,
  /pg_hba\.conf rejects connection/,
  /FATAL:\s+role "[^"]*" does not exist/,
  /fe_sendauth: no password supplied/,
  /(Ident|Peer|GSSAPI|SSPI|LDAP|RADIUS|certificate|PAM) authentication failed for user/,
  /client password must be a string/,
  /SASL: SCRAM-SERVER-FIRST-MESSAGE/,
  /server requested (SCRAM-SHA-256|a cleartext|an MD5) (authentication|password)/,
];

function firstMatch(text: string, patterns: RegExp[]): RegExpExecArray | undefined {
  for (const p of patterns) {
    const m = p.exec(text);
    if (m) return m;
  }
  return undefined;
}

function actorName(actor: PgActor): string {
  return actor === 'connection' ? 'the connection' : actor;
}

/** Errors whose meaning is clear from the text alone; undefined when nothing specific matches.
 *  `text` is the full error output (several lines are fine). `sqlstate` comes from node-postgres errors. */
export function mapPgFailureText(text: string, ctx: PgFailureContext, sqlstate?: string): PgvaultError | undefined {
  const target = describeTarget(ctx.cfg);
  const who = actorName(ctx.actor);
  const details = { actor: ctx.actor, host: ctx.cfg.host, port: ctx.cfg.port, database: ctx.cfg.database, user: ctx.cfg.user };

  if (/server version mismatch/.test(text)) {
    const mismatch = /server version: (\d+)/.exec(text);
    const serverMajor = mismatch?.[1] ? Number(mismatch[1]) : undefined;
    const need = serverMajor === undefined ? 'a newer pg_dump' : `pg_dump ${serverMajor}`;
    return new UserErrorPgDumpTooOld(
      `${who}${ctx.clientVersion ? ` ${ctx.clientVersion}` : ''} cannot dump ${target}: the server is newer; ${need} or newer is needed`,
      { hint: serverMajor === undefined ? 'Install the client tools of the server\'s major version.' : installHint(serverMajor), details: { ...details, serverMajor } },
    );
  }

  if (/server does not support SSL, but SSL was required|The server does not support SSL connections/.test(text)) {
    return new UserErrorSslUnavailable(`${target}: sslmode=${ctx.cfg.options?.sslmode ?? 'prefer'} requires SSL, but the server does not offer it`, {
      hint: 'Enable SSL on the server (ssl = on with a certificate), or, on a trusted network only, use sslmode=prefer or disable.',
      details,
    });
  }
  if (/certificate verify failed|does not match host name|self[- ]signed certificate|unable to verify the first certificate|root certificate file .* does not exist|ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN/.test(text)) {
    return new UserErrorSslVerificationFailed(`${target}: the server's SSL certificate did not verify`, {
      hint: 'Point sslrootcert at the CA that signed the server certificate; with verify-full the host name must match the certificate.',
      details,
    });
  }

  if (sqlstate === '28P01' || sqlstate === '28000' || firstMatch(text, authFailed)) {
    return new UserErrorAuthenticationFailed(`${who} could not log in to ${target}: the server rejected the credentials`, {
      hint: 'Check the user name and the password in the credential reference, and that pg_hba.conf allows this role from this host.',
      details,
    });
  }

  const noDb = /database "((?:[^"]|"")*)" does not exist/.exec(text);
  if (sqlstate === '3D000' || (noDb && /FATAL/.test(text)) || (noDb && ctx.actor === 'connection')) {
    return new UserErrorDatabaseNotFound(`database "${noDb?.[1] ?? ctx.cfg.database}" does not exist on ${ctx.cfg.host}:${ctx.cfg.port}`, {
      hint: 'Check the database name (it is case-sensitive); list the databases with `psql -l`.',
      details,
    });
  }

  if (/User does not have CONNECT privilege|permission denied for database/.test(text)) {
    return new UserErrorMissingDBPermissions(`role "${ctx.cfg.user}" may not connect to database "${ctx.cfg.database}"`, {
      hint: `GRANT CONNECT ON DATABASE "${ctx.cfg.database.replace(/"/g, '""')}" TO "${ctx.cfg.user.replace(/"/g, '""')}"; then run the pre-flight check again.`,
      details: { ...details, missing: [`CONNECT on database "${ctx.cfg.database}"`] },
    });
  }
  const denied = /permission denied for (table|relation|schema|sequence|large object|view|materialized view|function|language|tablespace) ([^\n]+)/.exec(text);
  if (denied || sqlstate === '42501') {
    const what = denied ? `${denied[1]} ${denied[2]?.trim()}` : 'an object';
    return new UserErrorMissingDBPermissions(`${who} as role "${ctx.cfg.user}" was refused access to ${what} in database "${ctx.cfg.database}"`, {
      hint: ctx.actor === 'pg_restore'
        ? 'The restoring role needs CREATEDB (or ownership of the target database) and membership of the roles that own the restored objects, or restore with --no-owner.'
        : 'Run the pre-flight check: it lists every missing privilege and the GRANT script that fixes them.',
      details: { ...details, missing: [what] },
    });
  }

  // pg_dump implements --lock-wait-timeout as a statement_timeout around its LOCK TABLE statements.
  if (/could not obtain lock on|canceling statement due to lock timeout|canceling statement due to statement timeout[\s\S]*LOCK TABLE/.test(text) || sqlstate === '55P03') {
    return new UserErrorLockTimeout(`${who} could not lock a table in ${target} in time: another session holds a conflicting lock`, {
      hint: 'A session holding an ACCESS EXCLUSIVE lock (ALTER TABLE, VACUUM FULL, a long migration) blocks the backup; schedule the backup outside such work or raise the lock wait timeout.',
      details,
    });
  }

  if (sqlstate === '53100' || (ctx.actor !== 'pg_dump' && ctx.actor !== 'pg_dumpall' && /No space left on device|Check free disk space|could not extend file/.test(text))) {
    return new UserErrorTargetOutOfDisk(`${target}: the server ran out of disk space during the restore`, {
      hint: 'Free space on the target server (or grow its volume), drop the partly restored database, and run the restore again.',
      details,
    });
  }

  if (sqlstate === '57P01' || sqlstate === '57P02' || sqlstate === '25P03' || sqlstate === '57P05' || firstMatch(text, connectionLost)) {
    return new TransientErrorConnectionLost(`${who}: the connection to ${target} was lost while the work was under way`, {
      hint: /conflict with recovery/.test(text)
        ? 'The standby cancelled the dump to replay WAL: back up from the primary, or set hot_standby_feedback = on / raise max_standby_streaming_delay.'
        : 'The server closed the session (pg_terminate_backend, a restart, a failover or a network cut). The job is retried; nothing partial was kept.',
      details,
    });
  }

  if (sqlstate === '57P03' || sqlstate === '53300' || firstMatch(text, unavailable)) {
    return new TransientErrorServerUnavailable(`${who} could not reach ${target} or the server would not take a connection`, {
      hint: 'Check that the server runs and listens on this host and port (listen_addresses, firewall), and that it has free connection slots.',
      details,
    });
  }
  return undefined;
}

/** Whether a server error that the tool printed is in another language than English: the tools' own words (run
 *  with LC_ALL=C) are English, the severity after them is the server's ("FEHLER:  ", "ERREUR:  "). */
function localizedServerError(errors: readonly string[]): boolean {
  return errors.some((l) => {
    const m = /(?:could not execute query|query failed): ([^:]{2,24}): {2}/u.exec(l);
    return m !== null && !/^(ERROR|FATAL|PANIC)$/.test(m[1]!);
  });
}

/** The error lines of a tool's stderr (pg_dump: error: …, detail lines, server ERROR/FATAL lines). */
export function errorLines(lines: readonly string[]): string[] {
  return lines.filter((l) => /^(pg_dump|pg_dumpall|pg_restore): (error|detail|fatal|warning: errors ignored)|^(ERROR|FATAL|DETAIL|HINT|PANIC):|^Command was:|^server closed|^\s+This probably means|^connection to server/.test(l));
}

/** The coded error for a tool that exited non-zero or was killed by a signal. */
export function mapPgToolExit(args: {
  ctx: PgFailureContext;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  lines: readonly string[];
}): PgvaultError {
  const errors = errorLines(args.lines);
  const text = (errors.length > 0 ? errors : args.lines).join('\n');
  const specific = mapPgFailureText(text, args.ctx);
  if (specific) return specific;
  const who = actorName(args.ctx.actor);
  const how = args.signal ? `was killed by ${args.signal}` : `exited with code ${String(args.exitCode)}`;
  const last = errors.find((l) => /: error: /.test(l)) ?? errors[0] ?? args.lines[args.lines.length - 1];
  return new UserErrorPgToolFailed(`${who} ${how} on ${describeTarget(args.ctx.cfg)}${last ? `: ${last}` : ''}`, {
    hint: args.signal === 'SIGPIPE'
      ? 'The reader of the dump stopped early (a failed upload or a cancelled job); see the job log for the first error.'
      : localizedServerError(errors)
        ? `The server reported the failure in its own language (lc_messages), and pgvault reads the failures of running statements ` +
          `(lock timeout, disk full) only in English. A superuser can set it for this role alone: ` +
          `ALTER ROLE "${args.ctx.cfg.user.replace(/"/g, '""')}" SET lc_messages = 'C'; then the failure gets its own code and hint. See details.errors.`
        : 'See details.errors (the tool\'s own error lines) and the job log.',
    details: { actor: args.ctx.actor, exitCode: args.exitCode, signal: args.signal, errors: errors.slice(-20).map(redact) },
  });
}
