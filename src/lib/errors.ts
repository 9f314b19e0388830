/** The error model of pgvault: one base class with a stable code, a category, a hint and redacted details.
 *  The category fixes the CLI exit code and the HTTP status; codes are the class names and are documented
 *  in docs/errors.md (a test keeps the two in step). Never put a secret into a message, hint or detail. */
import { redact } from './redact.ts';

export type ErrorCategory = 'user' | 'integrity' | 'transient' | 'internal';

export interface PgvaultErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export abstract class PgvaultError extends Error {
  abstract readonly category: ErrorCategory;
  /** HTTP status for the API; subclasses narrow it (404, 409, 403 …). */
  readonly httpStatus: number = 500;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(redact(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.hint = opts.hint === undefined ? undefined : redact(opts.hint);
    this.details = redactDetails(opts.details ?? {});
    this.name = new.target.name;
  }

  /** The stable code: the class name. Persisted in the catalog and shown to users: never rename a class. */
  get code(): string {
    return this.name;
  }

  toJSON(): { code: string; category: ErrorCategory; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      category: this.category,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(Object.keys(this.details).length === 0 ? {} : { details: this.details }),
    };
  }
}

function redactDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) {
    if (/password|secret|token|passphrase|key$/i.test(k)) out[k] = '[redacted]';
    else if (typeof v === 'string') out[k] = redact(v);
    else out[k] = v;
  }
  return out;
}

/** The user asked for something that cannot be done as asked; retrying will not help. */
export abstract class UserError extends PgvaultError {
  readonly category = 'user' as const;
  override readonly httpStatus: number = 400;
}

/** Stored data is damaged or does not authenticate. Never retried, never "repaired" by deleting data. */
export abstract class IntegrityError extends PgvaultError {
  readonly category = 'integrity' as const;
  override readonly httpStatus: number = 500;
}

/** A passing fault (network, storage throttling, a lost lease). Retried by the storage decorator or the queue. */
export abstract class TransientError extends PgvaultError {
  readonly category = 'transient' as const;
  override readonly httpStatus: number = 503;
}

/** A bug or an impossible state inside pgvault. */
export abstract class InternalError extends PgvaultError {
  readonly category = 'internal' as const;
  override readonly httpStatus: number = 500;
}

export class InternalErrorUnexpected extends InternalError {
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, { hint: 'This is a bug in pgvault; please report it with the job log.', ...opts });
  }
}

export class UserErrorInvalidInput extends UserError {
  override readonly httpStatus: number = 400;
}

export class UserErrorNotFound extends UserError {
  override readonly httpStatus: number = 404;
}

export class UserErrorConflict extends UserError {
  override readonly httpStatus: number = 409;
}

/** Exit codes of the CLI by category; stable, documented in docs/errors.md. */
export const exitCodeByCategory: Record<ErrorCategory, number> = {
  user: 2,
  integrity: 3,
  transient: 4,
  internal: 5,
};

/** Wraps anything thrown into a PgvaultError without losing the original as cause. */
export function asPgvaultError(err: unknown): PgvaultError {
  if (err instanceof PgvaultError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalErrorUnexpected(message, { cause: err });
}

export function isTransient(err: unknown): boolean {
  return err instanceof PgvaultError && err.category === 'transient';
}
