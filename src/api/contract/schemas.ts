/** The JSON shapes of the HTTP API as TypeBox schemas: request bodies, query strings and resources.
 *  The server validates against them (additionalProperties: false everywhere) and derives /openapi.json
 *  from them; the CLI uses their static types. Shapes here are public API: add fields, never repurpose one. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { permissions, roles } from './roles.ts';

/** Names of vaults, policies, instances, secrets and tokens: no `/`, `..`, NUL, quotes or spaces. */
export const namePattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
export const Name = Type.String({
  pattern: namePattern,
  minLength: 1,
  maxLength: 63,
  description: "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
});

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const RoleSchema = Type.Union(roles.map((r) => Type.Literal(r)));
export const PermissionSchema = Type.Union(permissions.map((p) => Type.Literal(p)));

// ---- problems (RFC 9457) ----
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'the stable error code, documented in docs/errors.md' }),
    category: Type.Union([Type.Literal('user'), Type.Literal('integrity'), Type.Literal('transient'), Type.Literal('internal')]),
    hint: Type.Optional(Type.String()),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'Problem' },
);
export type Problem = Static<typeof Problem>;

// ---- pagination ----
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 500, pattern: '^[A-Za-z0-9_-]*$' })),
  },
  strict,
);
export type PageQuery = Static<typeof PageQuery>;
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) }, strict);
export interface PageOf<T> {
  items: T[];
  nextCursor: string | null;
}

// ---- tokens ----
export const TokenCreate = Type.Object({ name: Name, role: RoleSchema }, strict);
export type TokenCreate = Static<typeof TokenCreate>;
export const Token = Type.Object({
  id: Id,
  name: Type.String(),
  role: RoleSchema,
  createdAt: Timestamp,
  lastUsedAt: Nullable(Timestamp),
  revokedAt: Nullable(Timestamp),
});
export type Token = Static<typeof Token>;
export const TokenCreated = Type.Object({
  ...Token.properties,
  token: Type.String({ description: 'the bearer token: shown once, never again' }),
});
export type TokenCreated = Static<typeof TokenCreated>;
export const TokenList = Page(Token);

export const IdParams = Type.Object({ id: Id }, strict);
export const NameParams = Type.Object({ name: Name }, strict);

// ---- who am I ----
export const WhoAmI = Type.Object({ tokenId: Type.String(), name: Type.String(), role: RoleSchema, permissions: Type.Array(PermissionSchema) });
export type WhoAmI = Static<typeof WhoAmI>;

// ---- audit ----
export const AuditEntry = Type.Object({
  id: Type.String(),
  at: Timestamp,
  actor: Type.String({ description: 'token id and name, or "anonymous"' }),
  action: Type.String({ description: 'METHOD /route' }),
  target: Nullable(Type.String()),
  result: Type.String({ description: '"ok" or the error code' }),
  status: Type.Integer(),
});
export type AuditEntry = Static<typeof AuditEntry>;
export const AuditList = Page(AuditEntry);

// ---- health ----
export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() });
export type Health = Static<typeof Health>;

// ---- vaults ----
export const Immutability = Type.Union([Type.Literal('off'), Type.Literal('unlocked'), Type.Literal('locked')]);
/** A credential reference: secret:NAME, env:VAR, file:/abs/path or azure-keyvault:https://…/secrets/NAME. */
export const CredentialReference = Type.String({
  minLength: 5,
  maxLength: 1024,
  pattern: '^(secret:[A-Za-z0-9][A-Za-z0-9._-]{0,62}|env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:/[^\\u0000]*|azure-keyvault:https://[^\\u0000\\s]+)$',
  description: 'secret:NAME, env:VAR, file:/abs/path or azure-keyvault:https://NAME.vault.azure.net/secrets/S',
});
export const VaultCreate = Type.Object(
  {
    name: Name,
    storageUrl: Type.String({ minLength: 1, maxLength: 2048, description: 'file:///abs/dir, azblob://account/container/prefix, …' }),
    keyReference: CredentialReference,
    softDeleteDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 3650 })),
    immutability: Type.Optional(Immutability),
  },
  strict,
);
export type VaultCreate = Static<typeof VaultCreate>;
export const Vault = Type.Object({
  id: Type.String(),
  name: Type.String(),
  storageUrl: Type.String(),
  keyReference: Type.String(),
  softDeleteDays: Type.Integer(),
  immutability: Immutability,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Vault = Static<typeof Vault>;
export const VaultList = Page(Vault);
export const IdOrNameParams = Type.Object({ ref: Type.String({ pattern: namePattern, maxLength: 100 }) }, strict);

// ---- secrets ----
export const SecretSet = Type.Object({ value: Type.String({ minLength: 1, maxLength: 16384 }) }, strict);
export type SecretSet = Static<typeof SecretSet>;
export const SecretInfo = Type.Object({ name: Type.String(), createdAt: Timestamp, updatedAt: Timestamp });
export type SecretInfo = Static<typeof SecretInfo>;
export const SecretList = Page(SecretInfo);

// ---- policies ----
export const RetentionTag = Type.Union([Type.Literal('Default'), Type.Literal('Weekly'), Type.Literal('Monthly'), Type.Literal('Yearly')]);
export const Schedule = Type.Object(
  {
    repeatingInterval: Type.String({ minLength: 5, maxLength: 100, description: 'ISO 8601 repeating interval, e.g. R/2026-01-04T02:00:00/P1D' }),
    timeZone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Berlin' }),
  },
  strict,
);
export const RetentionRule = Type.Object(
  {
    tag: RetentionTag,
    duration: Type.String({ minLength: 3, maxLength: 40, description: 'ISO 8601 duration, P1D to P10Y' }),
    priority: Type.Integer({ minimum: 0, maximum: 1000 }),
  },
  strict,
);
export const PolicyCreate = Type.Object(
  {
    vault: Type.String({ pattern: namePattern, maxLength: 100, description: 'vault name or id' }),
    name: Name,
    schedules: Type.Array(Schedule, { minItems: 1, maxItems: 16 }),
    retentionRules: Type.Array(RetentionRule, { minItems: 1, maxItems: 4 }),
  },
  strict,
);
export type PolicyCreate = Static<typeof PolicyCreate>;
export const Policy = Type.Object({
  id: Type.String(),
  vaultId: Type.String(),
  name: Type.String(),
  schedules: Type.Array(Schedule),
  retentionRules: Type.Array(RetentionRule),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Policy = Static<typeof Policy>;
export const PolicyList = Page(Policy);
export const VaultFilter = Type.Object({ ...PageQuery.properties, vault: Type.Optional(Type.String({ pattern: namePattern, maxLength: 100 })) }, strict);

// ---- backup instances ----
export const InstanceState = Type.Union([Type.Literal('protecting'), Type.Literal('stopped'), Type.Literal('suspended')]);
export const Datasource = Type.Object(
  {
    kind: Type.Union([Type.Literal('database'), Type.Literal('server')]),
    serverUrl: Type.String({ minLength: 1, maxLength: 2048, description: 'postgresql://user@host:port — never with a password' }),
    databaseName: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 63 }), Type.Null()])),
    excludedDatabases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 1000 })),
    excludedOwners: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 1000 })),
  },
  strict,
);
export const InstanceCreate = Type.Object(
  {
    name: Name,
    vault: Type.String({ pattern: namePattern, maxLength: 100, description: 'vault name or id' }),
    policy: Type.String({ pattern: namePattern, maxLength: 100, description: 'policy name (in the vault) or id' }),
    datasource: Datasource,
    credentialReference: CredentialReference,
  },
  strict,
);
export type InstanceCreate = Static<typeof InstanceCreate>;
export const Instance = Type.Object({
  id: Type.String(),
  name: Type.String(),
  vaultId: Type.String(),
  policyId: Type.String(),
  datasource: Type.Object({
    kind: Type.String(),
    serverUrl: Type.String(),
    databaseName: Nullable(Type.String()),
    excludedDatabases: Type.Array(Type.String()),
    excludedOwners: Type.Array(Type.String()),
  }),
  credentialReference: Type.String(),
  state: InstanceState,
  stopMode: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Instance = Static<typeof Instance>;
export const InstanceList = Page(Instance);
export const InstanceStop = Type.Object({ mode: Type.Union([Type.Literal('retain'), Type.Literal('delete')]) }, strict);
export const BackupRequest = Type.Object({ tag: Type.Optional(RetentionTag) }, strict);
export type BackupRequest = Static<typeof BackupRequest>;

// ---- jobs ----
export const JobType = Type.Union(['backup', 'restore', 'restore-files', 'retention', 'prune', 'check', 'verify'].map((t) => Type.Literal(t)));
export const JobState = Type.Union(['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((t) => Type.Literal(t)));
export const Job = Type.Object({
  id: Type.String(),
  type: Type.String(),
  state: Type.String(),
  vaultId: Nullable(Type.String()),
  instanceId: Nullable(Type.String()),
  progress: Type.Record(Type.String(), Type.Unknown()),
  figures: Type.Record(Type.String(), Type.Unknown()),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String(), hint: Nullable(Type.String()) })),
  attempts: Type.Integer(),
  requestedBy: Nullable(Type.String()),
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
});
export type Job = Static<typeof Job>;
export const JobList = Page(Job);
export const JobFilter = Type.Object(
  {
    ...PageQuery.properties,
    vault: Type.Optional(Type.String({ pattern: namePattern, maxLength: 100 })),
    instance: Type.Optional(Type.String({ pattern: namePattern, maxLength: 100 })),
    type: Type.Optional(JobType),
    state: Type.Optional(JobState),
    since: Type.Optional(Timestamp),
    until: Type.Optional(Timestamp),
  },
  strict,
);
export type JobFilter = Static<typeof JobFilter>;
export const JobLogLine = Type.Object({ at: Timestamp, level: Type.String(), message: Type.String() });
export const JobLog = Type.Object({ lines: Type.Array(JobLogLine) });

// ---- recovery points ----
export const RecoveryPoint = Type.Object({
  id: Type.String(),
  instanceId: Type.String(),
  vaultId: Type.String(),
  manifestId: Type.String(),
  tags: Type.Array(Type.String()),
  createdAt: Timestamp,
  expiresAt: Nullable(Timestamp),
  sizeBytes: Type.Integer(),
  storedBytes: Type.Integer(),
  state: Type.String(),
  softDeletedAt: Nullable(Timestamp),
  entries: Type.Array(Type.Object({ name: Type.String(), sizeBytes: Type.Integer(), sha256: Type.String() })),
});
export type RecoveryPoint = Static<typeof RecoveryPoint>;
export const RecoveryPointList = Page(RecoveryPoint);
export const PointFilter = Type.Object(
  { ...PageQuery.properties, vault: Type.Optional(Type.String({ pattern: namePattern, maxLength: 100 })), instance: Type.Optional(Type.String({ pattern: namePattern, maxLength: 100 })) },
  strict,
);
export type PointFilter = Static<typeof PointFilter>;
export const RestoreRequest = Type.Object(
  {
    targetServerUrl: Type.String({ minLength: 1, maxLength: 2048, description: 'postgresql://user@host:port — never with a password' }),
    credentialReference: CredentialReference,
    database: Type.String({ minLength: 1, maxLength: 63, description: 'the new database name' }),
    entry: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'whole-server points: which database entry' })),
    replace: Type.Optional(Type.Boolean()),
    jobs: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'parallel workers (pg_restore -j), straight from the vault; 1 (the default) restores serially' })),
    noTablespaces: Type.Optional(Type.Boolean({ description: "every object in the new database's default tablespace, not in the tablespaces the point names" })),
    createRoles: Type.Optional(Type.Boolean({ description: 'whole-server points: first create the roles the target lacks from the point\'s globals (without passwords)' })),
    privilegedRoles: Type.Optional(
      Type.Boolean({ description: 'with createRoles, as a superuser: also give SUPERUSER, REPLICATION, BYPASSRLS and server-side role memberships (withheld otherwise)' }),
    ),
    spool: Type.Optional(Type.Boolean({ description: 'with jobs > 1: write the archive to a local temp file first and run plain pg_restore -j on it' })),
    schemas: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 1000, description: 'item-level: restore only these schemas, whole (but foreign keys to tables of other schemas)' })),
    tables: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 300 }), {
        maxItems: 10000,
        description: 'item-level: restore only these tables, as schema.table (public when omitted; double-quote a part with a dot), with their sequences, indexes, constraints and grants',
      }),
    ),
  },
  strict,
);
export type RestoreRequest = Static<typeof RestoreRequest>;
export const RestoreFilesRequest = Type.Object(
  {
    destination: Type.String({ minLength: 1, maxLength: 2048, description: 'an absolute directory path or a storage URL' }),
    databases: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { minItems: 1, maxItems: 10000, description: 'whole-server points: only these databases (no globals.sql)' }),
    ),
  },
  strict,
);
export type RestoreFilesRequest = Static<typeof RestoreFilesRequest>;

// ---- grants ----
export const GrantsQuery = Type.Object(
  {
    role: Type.String({ minLength: 1, maxLength: 63, pattern: '^[^\\u0000]+$', description: 'the role that will run the backups' }),
    database: Type.Array(Type.String({ minLength: 1, maxLength: 63, pattern: '^[^\\u0000]+$' }), { minItems: 1, maxItems: 1000, description: 'databases to back up (repeat the parameter)' }),
    serverMajor: Type.Optional(Type.Integer({ minimum: 9, maximum: 99, description: 'server major version: 14+ uses pg_read_all_data' })),
  },
  strict,
);
export type GrantsQuery = Static<typeof GrantsQuery>;
export const GrantsScript = Type.Object({ script: Type.String() });

// ---- vault maintenance and validation ----
export const VaultCheckRequest = Type.Object({ readData: Type.Optional(Type.Boolean({ description: 'read and authenticate every blob (slow)' })) }, strict);
export type VaultCheckRequest = Static<typeof VaultCheckRequest>;
export const EmptyBody = Type.Object({}, strict);
export const ValidationReport = Type.Object({
  serverVersion: Type.String(),
  role: Type.String(),
  databases: Type.Array(Type.Object({ name: Type.String(), sizeBytes: Type.Integer() })),
  pgDump: Type.String(),
  warnings: Type.Array(Type.String()),
});
export type ValidationReport = Static<typeof ValidationReport>;
export const VaultAttached = Type.Object({ vault: Vault, importedPoints: Type.Integer() });
export type VaultAttached = Static<typeof VaultAttached>;
