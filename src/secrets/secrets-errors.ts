/** Error codes owned by src/secrets: malformed references, credentials that are missing, empty, unsafe or
 *  denied, an unreachable key vault, and a master key that is invalid or does not open the sealed secrets.
 *  Messages name the reference, never the value. Codes are persisted and documented: never rename or reuse. */
import { IntegrityError, TransientError, UserError } from '../lib/index.ts';

/** The text is not a credential reference pgvault understands. */
export class UserErrorInvalidCredentialReference extends UserError {
  override readonly httpStatus: number = 400;
}

/** The reference is well formed but names nothing: no such pgvault secret, environment variable, file or key vault secret. */
export class UserErrorCredentialNotFound extends UserError {
  override readonly httpStatus: number = 404;
}

/** The reference resolved to an empty value. */
export class UserErrorCredentialEmpty extends UserError {
  override readonly httpStatus: number = 400;
}

/** A file: reference points at something that is not a regular file, or that other users may read or write. */
export class UserErrorCredentialFileUnsafe extends UserError {
  override readonly httpStatus: number = 400;
}

/** pgvault may not read the credential: file permissions, or the key vault refused the identity. */
export class UserErrorCredentialAccessDenied extends UserError {
  override readonly httpStatus: number = 403;
}

/** The key vault could not be reached or answered with a server error or throttling. */
export class TransientErrorKeyVaultUnavailable extends TransientError {}

/** PGVAULT_MASTER_KEY or <dataDir>/master.key is malformed or has unsafe permissions. */
export class UserErrorMasterKeyInvalid extends UserError {
  override readonly httpStatus: number = 400;
}

/** A stored secret was sealed under another master key than the one loaded. */
export class UserErrorMasterKeyMismatch extends UserError {
  override readonly httpStatus: number = 409;
}

/** A sealed secret does not authenticate under the master key that sealed it: it was altered. */
export class IntegrityErrorSecretUnsealFailed extends IntegrityError {}
