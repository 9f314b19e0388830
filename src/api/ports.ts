/** What the HTTP API needs from the service core, as narrow interfaces. The composition root (src/app)
 *  implements them over the catalog, the jobs queue and the operations; the API never opens a database.
 *  Every method throws coded errors (PgvaultError); UserErrorNotFound for a missing resource. */
import type { Role } from './contract/index.ts';

/** An API token as stored: only the hash of its secret. */
export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  secretHash: string;
  createdAt: Date;
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Stored tokens. insert() refuses a duplicate name of a live token with UserErrorConflict. */
export interface TokenStore {
  insert(token: TokenRecord): Promise<void>;
  /** undefined when no token has this id. */
  get(id: string): Promise<TokenRecord | undefined>;
  list(): Promise<TokenRecord[]>;
  /** Marks the token revoked (idempotent: a second revoke keeps the first time); UserErrorNotFound if unknown. */
  revoke(id: string, at: Date): Promise<TokenRecord>;
}

export interface AuditRecord {
  id: string;
  at: Date;
  /** `token:<id> (<name>)` or `anonymous`. */
  actor: string;
  /** `POST /v1/vaults`. */
  action: string;
  target: string | null;
  /** `ok` or the error code. */
  result: string;
  status: number;
}

/** The audit log: append-only. */
export interface AuditLog {
  append(entry: Omit<AuditRecord, 'id'>): Promise<void>;
  /** Newest first; `before` is the (at, id) position of the last entry already seen. */
  list(opts: { limit: number; before?: { at: Date; id: string } }): Promise<AuditRecord[]>;
}
