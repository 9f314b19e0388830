/** The storage layer's coded errors. Drivers translate every SDK and OS error into one of these (or into
 *  lib's generic ones) at their boundary, so that the layers above never see an errno or an HTTP status.
 *  Messages name keys and locations, never credentials: every message passes through redact(). */
import { IntegrityError, TransientError, UserError, UserErrorInvalidInput, type PgvaultErrorOptions } from '../lib/index.ts';

/** get() or stat() of a key that does not exist.
 *  Category integrity: inside pgvault a storage key is only ever read because something (an index, a
 *  manifest) says the object exists, so a missing object that escapes uncaught means lost data and must
 *  never be retried or shown as the user's fault. Callers that merely probe for existence catch it
 *  (`err instanceof StorageErrorNotFound`) as an ordinary outcome. */
export class StorageErrorNotFound extends IntegrityError {
  override readonly httpStatus: number = 500;
  constructor(readonly key: string, location: string, opts: PgvaultErrorOptions = {}) {
    super(`object "${key}" does not exist in ${location}`, {
      hint: 'If the vault expected this object, run `pgvault vault check` to list what it affects.',
      ...opts,
      details: { object: key, location, ...opts.details },
    });
  }
}

/** put({ ifAbsent: true }) found the key already present. Category user, HTTP 409: a conflict with the
 *  current state (e.g. restore-as-files into a prefix that already holds the file). */
export class StorageErrorAlreadyExists extends UserError {
  override readonly httpStatus: number = 409;
  constructor(readonly key: string, location: string, opts: PgvaultErrorOptions = {}) {
    super(`object "${key}" already exists in ${location}`, {
      hint: 'Choose another key or prefix, or delete the existing object first.',
      ...opts,
      details: { object: key, location, ...opts.details },
    });
  }
}

/** The store failed in a way that may pass: throttling, 5xx, network faults, EIO/ENOSPC, a timeout.
 *  Retried by RetryingBackend (decorators/) and by the job queue. */
export class TransientErrorStorageUnavailable extends TransientError {
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, { hint: 'The storage is unreachable or overloaded; the operation is retried with backoff. If it persists, check the storage service and the network.', ...opts });
  }
}

/** A storage location (URL or path) that pgvault cannot use: unknown scheme, relative or escaping path,
 *  missing container. Category user, HTTP 400. */
export class UserErrorInvalidStorageUrl extends UserErrorInvalidInput {
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, {
      hint: 'Use file:///absolute/path, an absolute path, azblob://<account>/<container>[/<prefix>], https://<account>.blob.core.windows.net/<container>[/<prefix>]?<SAS> or s3://<bucket>[/<prefix>].',
      ...opts,
    });
  }
}

/** A storage key or list prefix that breaks the key rules (see parseStorageKey). Category user, HTTP 400. */
export class UserErrorInvalidStorageKey extends UserErrorInvalidInput {
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, {
      hint: 'Keys are 1–1024 bytes of "/"-separated segments (each 1–255 bytes), without a leading "/", "..", "." segments, empty segments, backslashes or control characters.',
      ...opts,
    });
  }
}

/** The store refused the credentials or the operation (HTTP 401/403, EACCES/EPERM/EROFS). Category user,
 *  HTTP 403: retrying will not help until the credentials or permissions change. */
export class UserErrorStorageAccessDenied extends UserError {
  override readonly httpStatus: number = 403;
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, {
      hint: 'Check the storage credentials (account key, SAS expiry and permissions, access keys) and the file permissions of the location.',
      ...opts,
    });
  }
}

/** A write (put, delete) on a backend opened read-only (ReadOnlyBackend). Category user, HTTP 403. */
export class UserErrorStorageReadOnly extends UserError {
  override readonly httpStatus: number = 403;
  constructor(verb: string, key: string, location: string) {
    super(`cannot ${verb} "${key}": ${location} is opened read-only`, {
      hint: 'This operation only reads the vault; writes go through a read-write opening of the storage.',
      details: { verb, key, location },
    });
  }
}
