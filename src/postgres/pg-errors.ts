/** The coded errors of the PostgreSQL module: what a connection, a pre-flight check or a pg_dump / pg_restore run
 *  can fail with. Codes are class names, persisted in job records and documented in docs/errors.md: never rename.
 *  Messages name the server, database and role; they never carry a password (PgvaultError redacts as a backstop). */
import { TransientError, UserError } from '../lib/index.ts';

/** No installed pg_dump (or pg_dumpall) is at least the server's major version. details: serverMajor, installed. */
export class UserErrorPgDumpTooOld extends UserError {
  override readonly httpStatus: number = 400;
}

/** The named client tool (pg_dump, pg_dumpall, pg_restore) is not installed anywhere pgvault looks. */
export class UserErrorPgClientNotFound extends UserError {
  override readonly httpStatus: number = 400;
}

/** The backup role lacks privileges. details.missing lists the exact objects; details.grantScript is the SQL
 *  that grants exactly them (when pre-flight could compute it). */
export class UserErrorMissingDBPermissions extends UserError {
  override readonly httpStatus: number = 403;
}

/** The server rejected the credentials (wrong password, unknown role, no pg_hba.conf entry). */
export class UserErrorAuthenticationFailed extends UserError {
  override readonly httpStatus: number = 400;
}

/** The database named in the connection does not exist on the server. */
export class UserErrorDatabaseNotFound extends UserError {
  override readonly httpStatus: number = 404;
}

/** The target server ran out of disk space during a restore. */
export class UserErrorTargetOutOfDisk extends UserError {
  override readonly httpStatus: number = 400;
}

/** pg_dump could not take its ACCESS SHARE locks within --lock-wait-timeout: another session holds a conflicting lock. */
export class UserErrorLockTimeout extends UserError {
  override readonly httpStatus: number = 409;
}

/** sslmode asked for SSL (require, verify-ca, verify-full) and the server does not offer it. */
export class UserErrorSslUnavailable extends UserError {
  override readonly httpStatus: number = 400;
}

/** The server's certificate did not verify against sslrootcert (verify-ca) or did not match the host (verify-full). */
export class UserErrorSslVerificationFailed extends UserError {
  override readonly httpStatus: number = 400;
}

/** The run was cancelled through its AbortSignal; the child process was killed. */
export class UserErrorPgToolCancelled extends UserError {
  override readonly httpStatus: number = 409;
}

/** pg_dump / pg_restore failed for a reason no more specific code covers; details.errors holds its error lines. */
export class UserErrorPgToolFailed extends UserError {
  override readonly httpStatus: number = 400;
}

/** The connection to the server broke while the work was under way (backend terminated, network cut, server restart). */
export class TransientErrorConnectionLost extends TransientError {
  override readonly httpStatus: number = 503;
}

/** The server cannot be reached or cannot take a connection now (refused, timed out, starting up, too many clients). */
export class TransientErrorServerUnavailable extends TransientError {
  override readonly httpStatus: number = 503;
}

/** The advice given for a missing pg_dump of `major`: where to get it on common systems, or PGVAULT_PG_BIN. */
export function installHint(major: number, tool = 'pg_dump'): string {
  return (
    `Install the PostgreSQL ${major} client tools: on Debian/Ubuntu "apt-get install postgresql-client-${major}" ` +
    `(from the PGDG repository, apt.postgresql.org), on RHEL/Fedora "dnf install postgresql${major}", ` +
    `on macOS "brew install postgresql@${major}"; or set PGVAULT_PG_BIN to a directory holding ${tool} ${major}.`
  );
}
