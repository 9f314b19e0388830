/** What the HTTP API needs from the service core, as narrow interfaces. The composition root (src/app)
 *  implements them over the catalog, the jobs queue and the operations; the API never opens a database.
 *  Every method throws coded errors (PgvaultError); UserErrorNotFound for a missing resource. */
import type { BackupRequest, Instance, InstanceCreate, Job, JobFilter, Policy, PolicyCreate, RecoveryPoint, RestoreFilesRequest, RestoreRequest, Role, SecretInfo, ValidationReport, Vault, VaultCreate } from './contract/index.ts';

/** An API token as listed: never its secret nor its hash. */
export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Stored tokens, hashed (SHA-256) so the store never holds one in clear.
 *  create() returns the clear token exactly once; a duplicate name is UserErrorConflict.
 *  authenticate() answers the live (not revoked, not expired) token with this text, else undefined.
 *  revoke() is idempotent (keeps the first revocation time); UserErrorNotFound if unknown. */
export interface TokenStore {
  create(input: { name: string; role: Role }): Promise<{ token: string; info: TokenInfo }>;
  authenticate(token: string): Promise<TokenInfo | undefined>;
  list(): Promise<TokenInfo[]>;
  revoke(idOrName: string): Promise<TokenInfo>;
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

/** Who asked, for jobs' requestedBy and for resources created on someone's behalf. */
export interface Actor {
  tokenId: string;
  name: string;
}

/** Vaults. create() validates the storage URL and key reference, then initialises the vault at its storage
 *  location (or opens an existing one whose key matches) before the catalog learns of it; a failure leaves
 *  the catalog unchanged. */
export interface VaultService {
  create(input: VaultCreate): Promise<Vault>;
  /** An existing vault only (UserErrorVaultNotFound otherwise); its manifests become recovery points. */
  attach(input: VaultCreate): Promise<{ vault: Vault; importedPoints: number }>;
  list(): Promise<Vault[]>;
  /** By name or id; UserErrorNotFound. */
  get(ref: string): Promise<Vault>;
}

/** pgvault's own secret store. Values go in and never come out through this interface. */
export interface SecretService {
  set(name: string, value: string): Promise<SecretInfo>;
  list(): Promise<SecretInfo[]>;
  delete(name: string): Promise<SecretInfo>;
}

export interface PolicyService {
  create(input: PolicyCreate): Promise<Policy>;
  list(filter: { vault?: string }): Promise<Policy[]>;
  get(ref: string): Promise<Policy>;
}

export interface InstanceService {
  create(input: InstanceCreate): Promise<Instance>;
  list(filter: { vault?: string }): Promise<Instance[]>;
  get(ref: string): Promise<Instance>;
  setState(ref: string, state: 'protecting' | 'stopped' | 'suspended', stopMode?: 'retain' | 'delete'): Promise<Instance>;
  /** Runs the pre-flight against the datasource; throws its coded error (missing grants …). */
  validate(ref: string): Promise<ValidationReport>;
}

/** Jobs: listing and enqueueing. enqueue*() return at once with the queued job (the API answers 202). */
export interface JobService {
  /** Newest first (createdAt, id descending), after `before` when given, at most `limit`. */
  list(filter: Omit<JobFilter, 'cursor' | 'limit'> & { limit: number; before?: { createdAt: string; id: string } }): Promise<Job[]>;
  get(id: string): Promise<Job>;
  log(id: string): Promise<Array<{ at: string; level: string; message: string }>>;
  enqueueBackup(instanceRef: string, request: BackupRequest, actor: Actor): Promise<Job>;
  enqueueRestore(pointId: string, request: RestoreRequest, actor: Actor): Promise<Job>;
  enqueueRestoreFiles(pointId: string, request: RestoreFilesRequest, actor: Actor): Promise<Job>;
  /** check, retention or prune of one vault. */
  enqueueVaultJob(vaultRef: string, type: 'check' | 'retention' | 'prune', params: Record<string, unknown>, actor: Actor): Promise<Job>;
}

export interface PointService {
  list(filter: { vault?: string; instance?: string }): Promise<RecoveryPoint[]>;
  get(id: string): Promise<RecoveryPoint>;
  /** Soft delete by hand (the last point too); a locked vault refuses before expiry. */
  delete(id: string): Promise<RecoveryPoint>;
  undelete(id: string): Promise<RecoveryPoint>;
}

/** The privilege script for a backup role (pure: connects to nothing). */
export type GrantScriptFn = (role: string, opts: { databases: string[]; serverMajor?: number }) => Promise<string>;
