/** Error codes owned by the catalog: a locked embedded catalog, an unreachable catalog database, a catalog
 *  written by a newer pgvault, and a job attempt that lost its claim (fencing). Codes are persisted and
 *  documented in docs/errors.md: never rename or reuse one. */
import { TransientError, UserError, type PgvaultErrorOptions } from '../lib/index.ts';

/** The embedded catalog's lock file is held by another live process. */
export class UserErrorCatalogLocked extends UserError {
  override readonly httpStatus: number = 409;
}

/** The external catalog database refused or dropped the connection. */
export class TransientErrorCatalogUnavailable extends TransientError {
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, { hint: 'Check that the catalog PostgreSQL server is running and reachable (--catalog URL).', ...opts });
  }
}

/** The catalog holds migrations this pgvault does not know: a newer version wrote it. */
export class UserErrorCatalogSchemaTooNew extends UserError {
  override readonly httpStatus: number = 409;
}

/** A job attempt tried to write after another attempt took the job over (its lease expired). The stale
 *  attempt must stop: nothing it produced may be committed. */
export class TransientErrorJobAttemptSuperseded extends TransientError {
  override readonly httpStatus: number = 503;
}

/** The vault is locked (immutable): the change would delete data before expiry, shorten retention or undo
 *  the lock. Locked is final, from every interface. */
export class UserErrorVaultLocked extends UserError {
  override readonly httpStatus: number = 403;
}
