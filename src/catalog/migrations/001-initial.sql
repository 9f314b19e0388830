-- pgvault catalog, migration 001: the resources of the service. Applied once, in a transaction, recorded in
-- pgvault.schema_migrations. Never edit an applied migration: add a new numbered file. Ids are text with a
-- type prefix (vault_, pol_, bi_, rp_, job_, tok_) followed by a ULID. Secrets are stored sealed (AES-256-GCM);
-- credential and key references are stored, never the credentials themselves.

CREATE TABLE vaults (
  id                text PRIMARY KEY CHECK (id LIKE 'vault\_%'),
  name              text NOT NULL UNIQUE,
  storage_url       text NOT NULL,
  key_reference     text NOT NULL,
  soft_delete_days  integer NOT NULL CHECK (soft_delete_days BETWEEN 0 AND 3650),
  immutability      text NOT NULL DEFAULT 'off' CHECK (immutability IN ('off', 'unlocked', 'locked')),
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);

CREATE TABLE policies (
  id               text PRIMARY KEY CHECK (id LIKE 'pol\_%'),
  vault_id         text NOT NULL REFERENCES vaults (id),
  name             text NOT NULL,
  schedules        jsonb NOT NULL CHECK (jsonb_typeof(schedules) = 'array'),
  retention_rules  jsonb NOT NULL CHECK (jsonb_typeof(retention_rules) = 'array'),
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  CONSTRAINT policies_vault_name_key UNIQUE (vault_id, name)
);

CREATE TABLE backup_instances (
  id                    text PRIMARY KEY CHECK (id LIKE 'bi\_%'),
  name                  text NOT NULL UNIQUE,
  vault_id              text NOT NULL REFERENCES vaults (id),
  policy_id             text NOT NULL REFERENCES policies (id),
  datasource_kind       text NOT NULL CHECK (datasource_kind IN ('database', 'server')),
  server_url            text NOT NULL,
  database_name         text,
  excluded_databases    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(excluded_databases) = 'array'),
  excluded_owners       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(excluded_owners) = 'array'),
  credential_reference  text NOT NULL,
  state                 text NOT NULL DEFAULT 'protecting' CHECK (state IN ('protecting', 'stopped', 'suspended')),
  stop_mode             text CHECK (stop_mode IN ('retain', 'delete')),
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  CONSTRAINT backup_instances_kind_database_check
    CHECK ((datasource_kind = 'database') = (database_name IS NOT NULL)),
  CONSTRAINT backup_instances_stopped_has_mode_check
    CHECK ((state = 'stopped') = (stop_mode IS NOT NULL))
);
CREATE INDEX backup_instances_policy_idx ON backup_instances (policy_id);

CREATE TABLE jobs (
  id                 text PRIMARY KEY CHECK (id LIKE 'job\_%'),
  type               text NOT NULL CHECK (type IN ('backup', 'restore', 'restore-files', 'retention', 'prune', 'check', 'verify')),
  state              text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  instance_id        text REFERENCES backup_instances (id),
  vault_id           text REFERENCES vaults (id),
  recovery_point_id  text,
  params             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
  progress           jsonb,
  figures            jsonb,
  error_code         text,
  error_message      text,
  error_hint         text,
  attempts           integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  attempt_id         text,
  fencing_token      bigint NOT NULL DEFAULT 0,
  queue_job_id       text,
  requested_by       text NOT NULL,
  created_at         timestamptz NOT NULL,
  started_at         timestamptz,
  heartbeat_at       timestamptz,
  finished_at        timestamptz
);
CREATE INDEX jobs_instance_idx ON jobs (instance_id, created_at DESC);
CREATE INDEX jobs_state_idx ON jobs (state, created_at);

CREATE TABLE job_log (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id   text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt  integer NOT NULL,
  at       timestamptz NOT NULL,
  level    text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  message  text NOT NULL
);
CREATE INDEX job_log_job_idx ON job_log (job_id, id);

CREATE TABLE recovery_points (
  id                text PRIMARY KEY CHECK (id LIKE 'rp\_%'),
  vault_id          text NOT NULL REFERENCES vaults (id),
  -- NULL when the point was attached from a vault whose backup instance this catalog does not know.
  instance_id       text REFERENCES backup_instances (id),
  manifest_id       text NOT NULL,
  job_id            text REFERENCES jobs (id),
  datasource_kind   text NOT NULL CHECK (datasource_kind IN ('database', 'server')),
  tags              jsonb NOT NULL CHECK (jsonb_typeof(tags) = 'array'),
  created_at        timestamptz NOT NULL,
  expires_at        timestamptz,
  size_bytes        bigint NOT NULL CHECK (size_bytes >= 0),
  stored_bytes      bigint NOT NULL CHECK (stored_bytes >= 0),
  entries           jsonb NOT NULL CHECK (jsonb_typeof(entries) = 'array'),
  state             text NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'soft_deleted', 'purged')),
  soft_deleted_at   timestamptz,
  CONSTRAINT recovery_points_vault_manifest_key UNIQUE (vault_id, manifest_id),
  CONSTRAINT recovery_points_soft_deleted_check CHECK ((state = 'available') = (soft_deleted_at IS NULL))
);
CREATE INDEX recovery_points_instance_idx ON recovery_points (instance_id, created_at DESC);
CREATE INDEX recovery_points_expiry_idx ON recovery_points (state, expires_at);

-- The scheduler's idempotency key: one row per due occurrence, whichever process sees it first.
CREATE TABLE schedule_occurrences (
  instance_id    text NOT NULL REFERENCES backup_instances (id) ON DELETE CASCADE,
  scheduled_for  timestamptz NOT NULL,
  job_id         text REFERENCES jobs (id),
  created_at     timestamptz NOT NULL,
  CONSTRAINT schedule_occurrences_pkey PRIMARY KEY (instance_id, scheduled_for)
);

-- Values are sealed by src/secrets (AES-256-GCM under the master key); the catalog never sees them in clear.
CREATE TABLE secrets (
  name        text PRIMARY KEY,
  sealed      bytea NOT NULL,
  key_id      text NOT NULL,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE api_tokens (
  id            text PRIMARY KEY CHECK (id LIKE 'tok\_%'),
  name          text NOT NULL UNIQUE,
  token_hash    text NOT NULL UNIQUE,
  role          text NOT NULL CHECK (role IN ('reader', 'backup-operator', 'restore-operator', 'contributor', 'admin')),
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz,
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE audit_log (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at             timestamptz NOT NULL,
  actor          text NOT NULL,
  action         text NOT NULL,
  resource_type  text NOT NULL,
  resource_id    text,
  outcome        text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'denied')),
  details        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
