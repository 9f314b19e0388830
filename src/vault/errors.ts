/** The vault's error classes: each code is the class name, persisted and documented in docs/errors.md.
 *  Messages quote object names (ids) but never key material or passphrases. */
import { IntegrityError, TransientError, UserError, type PgvaultErrorOptions } from '../lib/index.ts';

/** No key file of the vault opens with the given passphrase. */
export class UserErrorWrongPassphrase extends UserError {
  override readonly httpStatus: number = 401;
  constructor(location: string, opts: PgvaultErrorOptions = {}) {
    super(`no key of the vault at "${location}" opens with the given passphrase`, {
      hint: 'Check the credential reference of the vault; any passphrase added with addKey works.',
      ...opts,
    });
  }
}

/** create() found an existing config at the location. */
export class UserErrorVaultExists extends UserError {
  override readonly httpStatus: number = 409;
  constructor(location: string) {
    super(`a vault already exists at "${location}"`, { hint: 'Open it instead, or choose an empty location.' });
  }
}

/** open() found no config at the location. */
export class UserErrorVaultNotFound extends UserError {
  override readonly httpStatus: number = 404;
  constructor(location: string) {
    super(`no vault at "${location}" (its "config" object is missing)`, {
      hint: 'Check the vault URL; create the vault first if it is new.',
    });
  }
}

/** The vault's config names a format version this pgvault does not know. */
export class UserErrorVaultVersionUnsupported extends UserError {
  override readonly httpStatus: number = 400;
  constructor(location: string, version: unknown) {
    super(`the vault at "${location}" has format version ${JSON.stringify(version)}, which this pgvault cannot read`, {
      hint: 'Upgrade pgvault; docs/design/vault-format.md lists the versions.',
    });
  }
}

/** removeKey() would remove the key in use or the last key. */
export class UserErrorKeyInUse extends UserError {
  override readonly httpStatus: number = 409;
  constructor(keyId: string, why: string) {
    super(`key "${keyId}" cannot be removed: ${why}`, {
      hint: 'Open the vault with another passphrase first, or add a new key before removing this one.',
    });
  }
}

/** An encrypted object or blob failed AES-GCM authentication: it was altered, truncated or swapped. */
export class IntegrityErrorAuthenticationFailed extends IntegrityError {
  constructor(what: string, opts: PgvaultErrorOptions = {}) {
    super(`${what} failed authentication: it was altered, truncated or does not belong here`, {
      hint: 'Run check --read-data to list every damaged object and the recovery points it affects.',
      ...opts,
    });
  }
}

/** A decrypted chunk does not hash to its blob id. */
export class IntegrityErrorChunkHashMismatch extends IntegrityError {
  constructor(blobId: string) {
    super(`chunk "${blobId}" decrypted but its keyed hash differs from its id`, {
      hint: 'Run check --read-data; the pack holding this chunk is damaged.',
    });
  }
}

/** An object that the vault's structure says must exist is missing. */
export class IntegrityErrorObjectMissing extends IntegrityError {
  constructor(what: string, opts: PgvaultErrorOptions = {}) {
    super(`${what} is missing`, { hint: 'Run check to list the damage and the recovery points it affects; nothing was deleted.', ...opts });
  }
}

/** An object decrypted but its content does not follow the vault format. */
export class IntegrityErrorMalformedObject extends IntegrityError {
  constructor(what: string, why: string) {
    super(`${what} is malformed: ${why}`, { hint: 'Run check --read-data on the vault.' });
  }
}

/** A writer outlived a prune plan's grace period while it referenced a pack that plan condemned. */
export class TransientErrorPruneConflict extends TransientError {
  constructor(packId: string) {
    super(`a prune plan condemned pack "${packId}" that this recovery point refers to, and the writer ran too long to commit safely`, {
      hint: 'Retry the backup: the retry writes the chunks again. Give prune a grace period longer than twice the longest backup.',
    });
  }
}
