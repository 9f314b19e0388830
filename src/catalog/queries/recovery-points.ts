/** Queries on recovery points: the catalog's index of committed backups (the vault's manifests are the source
 *  of truth; insert() is idempotent on (vault, manifest) so a catalog can be rebuilt from a vault). Two-phase
 *  deletion: available → soft_deleted (undeletable) → purged after the vault's soft-delete days. A locked vault
 *  refuses deletion before expiry and any earlier expiry; expire() never takes an instance's last point. */
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { UserErrorVaultLocked } from '../catalog-errors.ts';
import { newId } from '../new-id.ts';
import type { SqlExecutor } from '../sql-executor.ts';
import { validateEnum, validateText } from '../validation.ts';
import type { DatasourceKind } from './backup-instances.ts';
import { datasourceKinds } from './backup-instances.ts';
import { json, limitOf, notFound, toDate, toDateOrNull, type QueryContext } from './query-context.ts';

export const recoveryPointStates = ['available', 'soft_deleted', 'purged'] as const;
export type RecoveryPointState = (typeof recoveryPointStates)[number];

/** One file of the recovery point as pg_dump wrote it (a database archive, the globals script). */
export interface RecoveryPointEntry {
  name: string;
  kind: string;
  sizeBytes: number;
  /** SHA-256 (hex) of the entry's bytes as pg_dump wrote them; restore-as-files reproduces it. */
  sha256: string;
}

export interface RecoveryPointRow {
  id: string;
  vaultId: string;
  instanceId: string | null;
  manifestId: string;
  jobId: string | null;
  datasourceKind: DatasourceKind;
  tags: string[];
  createdAt: Date;
  /** null: kept until deleted by hand. */
  expiresAt: Date | null;
  sizeBytes: number;
  storedBytes: number;
  entries: RecoveryPointEntry[];
  state: RecoveryPointState;
  softDeletedAt: Date | null;
}

export interface NewRecoveryPoint {
  vaultId: string;
  instanceId?: string | null;
  manifestId: string;
  jobId?: string | null;
  datasourceKind: DatasourceKind;
  tags: string[];
  createdAt: Date;
  expiresAt: Date | null;
  sizeBytes: number;
  storedBytes: number;
  entries: RecoveryPointEntry[];
}

export interface RecoveryPointFilter {
  vaultId?: string;
  instanceId?: string;
  state?: RecoveryPointState;
  limit?: number;
}

/** Fencing for insert(): the job attempt that produced the point must still own its job. */
export interface AttemptFence {
  jobId: string;
  attemptId: string;
}

/** get() throws UserErrorNotFound. */
export interface RecoveryPointQueries {
  /** Idempotent on (vaultId, manifestId): returns the existing row if the manifest is already known. With a
   *  fence, throws TransientErrorJobAttemptSuperseded when the attempt lost its job (run inside a transaction that
   *  also completes the job, or through catalog.transaction). */
  insert(input: NewRecoveryPoint, fence?: AttemptFence): Promise<RecoveryPointRow>;
  get(id: string): Promise<RecoveryPointRow>;
  findByManifest(vaultId: string, manifestId: string): Promise<RecoveryPointRow | undefined>;
  /** Newest first. */
  list(filter?: RecoveryPointFilter): Promise<RecoveryPointRow[]>;
  /** Available points whose expiry is at or before `at`. */
  listExpired(at: Date, filter?: { vaultId?: string }): Promise<RecoveryPointRow[]>;
  /** Soft-deleted points whose vault's soft-delete days have passed at `at`. */
  listPurgeable(at: Date, filter?: { vaultId?: string }): Promise<RecoveryPointRow[]>;
  /** Changes the expiry; in a locked vault it may only move later (never null → date, never earlier). */
  setExpiry(id: string, expiresAt: Date | null): Promise<RecoveryPointRow>;
  /** Automatic expiry: soft-deletes an expired available point unless it is its instance's last available
   *  one. Returns false when it kept the point. */
  expire(id: string): Promise<boolean>;
  /** Deletion by hand (the last point too). A locked vault refuses it before expiry (UserErrorVaultLocked). */
  softDelete(id: string): Promise<RecoveryPointRow>;
  /** Back to available from soft_deleted (UserErrorConflict once purged). */
  undelete(id: string): Promise<RecoveryPointRow>;
  /** Marks a soft-deleted point purged once its soft-delete days passed; prune may then remove its data. */
  purge(id: string): Promise<RecoveryPointRow>;
  /** Available points of an instance, for retention and missed-backup checks. */
  countAvailable(instanceId: string): Promise<number>;
  latest(instanceId: string): Promise<RecoveryPointRow | undefined>;
}

const columns = `id, vault_id, instance_id, manifest_id, job_id, datasource_kind, tags, created_at, expires_at, size_bytes,
  stored_bytes, entries, state, soft_deleted_at`;
const rpColumns = columns.split(',').map((c) => `rp.${c.trim()}`).join(', ');

function toRow(r: Record<string, unknown>): RecoveryPointRow {
  return {
    id: r.id as string,
    vaultId: r.vault_id as string,
    instanceId: (r.instance_id as string | null) ?? null,
    manifestId: r.manifest_id as string,
    jobId: (r.job_id as string | null) ?? null,
    datasourceKind: r.datasource_kind as DatasourceKind,
    tags: r.tags as string[],
    createdAt: toDate(r.created_at),
    expiresAt: toDateOrNull(r.expires_at),
    sizeBytes: Number(r.size_bytes),
    storedBytes: Number(r.stored_bytes),
    entries: r.entries as RecoveryPointEntry[],
    state: r.state as RecoveryPointState,
    softDeletedAt: toDateOrNull(r.soft_deleted_at),
  };
}

function bytes(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new UserErrorInvalidInput(`${field}: must be a whole number of bytes`, { hint: 'Give a non-negative integer.', details: { field } });
  }
  return v;
}

function validateEntries(value: unknown): RecoveryPointEntry[] {
  if (!Array.isArray(value) || value.length > 100_000) throw new UserErrorInvalidInput('entries: must be a list', { hint: 'One entry per archive of the recovery point.', details: { field: 'entries' } });
  return value.map((e: unknown, i) => {
    const o = (e ?? {}) as Record<string, unknown>;
    if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) {
      throw new UserErrorInvalidInput(`entries[${i}].sha256: must be 64 lowercase hex digits`, { hint: 'The SHA-256 of the entry as pg_dump wrote it.', details: { field: `entries[${i}].sha256` } });
    }
    return { name: validateText(`entries[${i}].name`, o.name, 512), kind: validateText(`entries[${i}].kind`, o.kind, 64), sizeBytes: bytes(`entries[${i}].sizeBytes`, o.sizeBytes), sha256: o.sha256 };
  });
}

function validDate(field: string, v: unknown): Date {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new UserErrorInvalidInput(`${field}: must be a valid date`, { hint: 'Give an ISO 8601 date and time.', details: { field } });
  return v;
}

async function lockedVault(exec: SqlExecutor, vaultId: string): Promise<string | null> {
  const rows = await exec.query<{ name: string; immutability: string }>('SELECT name, immutability FROM vaults WHERE id = $1', [vaultId]);
  return rows[0]?.immutability === 'locked' ? rows[0].name : null;
}

export function recoveryPointQueries(ctx: QueryContext, fenceCheck: (exec: SqlExecutor, fence: AttemptFence) => Promise<void>): RecoveryPointQueries {
  const find = async (exec: SqlExecutor, id: string, lock = false): Promise<RecoveryPointRow> => {
    const rows = await exec.query(`SELECT ${columns} FROM recovery_points WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    if (!rows[0]) throw notFound('recovery point', id);
    return toRow(rows[0]);
  };
  const findByManifest = async (vaultId: string, manifestId: string, exec: SqlExecutor = ctx.exec): Promise<RecoveryPointRow | undefined> => {
    const rows = await exec.query(`SELECT ${columns} FROM recovery_points WHERE vault_id = $1 AND manifest_id = $2`, [vaultId, manifestId]);
    return rows[0] ? toRow(rows[0]) : undefined;
  };
  const transition = async (exec: SqlExecutor, id: string, set: string, params: unknown[]): Promise<RecoveryPointRow> => {
    const rows = await exec.query(`UPDATE recovery_points SET ${set} WHERE id = $1 RETURNING ${columns}`, [id, ...params] as never[]);
    return toRow(rows[0]!);
  };
  return {
    async insert(input, fence) {
      const tags = (Array.isArray(input.tags) ? input.tags : []).map((t, i) => validateText(`tags[${i}]`, t, 64));
      const entries = validateEntries(input.entries);
      const kind = validateEnum('datasourceKind', input.datasourceKind, datasourceKinds);
      const manifestId = validateText('manifestId', input.manifestId, 200);
      const createdAt = validDate('createdAt', input.createdAt);
      const expiresAt = input.expiresAt === null ? null : validDate('expiresAt', input.expiresAt);
      const sizeBytes = bytes('sizeBytes', input.sizeBytes);
      const storedBytes = bytes('storedBytes', input.storedBytes);
      return ctx.exec.transaction(async (tx) => {
        if (fence) await fenceCheck(tx, fence);
        const rows = await tx.query(
          `INSERT INTO recovery_points (id, vault_id, instance_id, manifest_id, job_id, datasource_kind, tags, created_at, expires_at,
             size_bytes, stored_bytes, entries, state)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12::jsonb, 'available')
           ON CONFLICT (vault_id, manifest_id) DO NOTHING RETURNING ${columns}`,
          [newId('recoveryPoint', ctx.clock), input.vaultId, input.instanceId ?? null, manifestId, input.jobId ?? null, kind,
            json(tags), createdAt, expiresAt, sizeBytes, storedBytes, json(entries)]);
        if (rows[0]) return toRow(rows[0]);
        return (await findByManifest(input.vaultId, manifestId, tx))!;
      });
    },
    get: (id) => find(ctx.exec, id),
    findByManifest: (vaultId, manifestId) => findByManifest(vaultId, manifestId),
    async list(filter = {}) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.vaultId !== undefined) { params.push(filter.vaultId); where.push(`vault_id = $${params.length}`); }
      if (filter.instanceId !== undefined) { params.push(filter.instanceId); where.push(`instance_id = $${params.length}`); }
      if (filter.state !== undefined) { params.push(validateEnum('state', filter.state, recoveryPointStates)); where.push(`state = $${params.length}`); }
      const rows = await ctx.exec.query(
        `SELECT ${columns} FROM recovery_points ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT ${limitOf(filter.limit, 100_000)}`, params);
      return rows.map(toRow);
    },
    async listExpired(at, filter = {}) {
      const rows = await ctx.exec.query(
        `SELECT ${columns} FROM recovery_points WHERE state = 'available' AND expires_at <= $1 AND ($2::text IS NULL OR vault_id = $2)
         ORDER BY expires_at, id`, [validDate('at', at), filter.vaultId ?? null]);
      return rows.map(toRow);
    },
    async listPurgeable(at, filter = {}) {
      const rows = await ctx.exec.query(
        `SELECT ${rpColumns} FROM recovery_points rp JOIN vaults v ON v.id = rp.vault_id
         WHERE rp.state = 'soft_deleted' AND rp.soft_deleted_at + make_interval(days => v.soft_delete_days) <= $1
           AND ($2::text IS NULL OR rp.vault_id = $2)
         ORDER BY rp.soft_deleted_at, rp.id`, [validDate('at', at), filter.vaultId ?? null]);
      return rows.map(toRow);
    },
    async setExpiry(id, expiresAt) {
      if (expiresAt !== null) validDate('expiresAt', expiresAt);
      return ctx.exec.transaction(async (tx) => {
        const cur = await find(tx, id, true);
        const vault = await lockedVault(tx, cur.vaultId);
        const earlier = expiresAt !== null && (cur.expiresAt === null || expiresAt.getTime() < cur.expiresAt.getTime());
        if (vault && earlier) {
          throw new UserErrorVaultLocked(`vault "${vault}" is locked: recovery point "${id}" cannot expire earlier`, {
            hint: 'A locked vault refuses any shortening of retention; the expiry may only move later.', details: { recoveryPointId: id },
          });
        }
        return transition(tx, id, 'expires_at = $2', [expiresAt]);
      });
    },
    async expire(id) {
      return ctx.exec.transaction(async (tx) => {
        const cur = await find(tx, id, true);
        if (cur.state !== 'available' || cur.expiresAt === null || cur.expiresAt.getTime() > ctx.clock.now().getTime()) return false;
        if (cur.instanceId !== null) {
          // Serialise expiries of one instance so two concurrent runs cannot both take "not the last".
          await tx.query('SELECT id FROM backup_instances WHERE id = $1 FOR UPDATE', [cur.instanceId]);
          const others = await tx.query(`SELECT 1 FROM recovery_points WHERE instance_id = $1 AND state = 'available' AND id <> $2 LIMIT 1`, [cur.instanceId, id]);
          if (others.length === 0) return false;
        }
        await transition(tx, id, `state = 'soft_deleted', soft_deleted_at = $2`, [ctx.clock.now()]);
        return true;
      });
    },
    async softDelete(id) {
      return ctx.exec.transaction(async (tx) => {
        const cur = await find(tx, id, true);
        if (cur.state !== 'available') {
          throw new UserErrorInvalidInput(`recovery point "${id}" is already ${cur.state.replace('_', '-')}`, { hint: 'Only an available recovery point can be deleted.', details: { recoveryPointId: id } });
        }
        const vault = await lockedVault(tx, cur.vaultId);
        if (vault && (cur.expiresAt === null || cur.expiresAt.getTime() > ctx.clock.now().getTime())) {
          throw new UserErrorVaultLocked(`vault "${vault}" is locked: recovery point "${id}" cannot be deleted before it expires`, {
            hint: `It expires ${cur.expiresAt ? `at ${cur.expiresAt.toISOString()}` : 'never'}; a locked vault refuses earlier deletion from every interface.`,
            details: { recoveryPointId: id },
          });
        }
        return transition(tx, id, `state = 'soft_deleted', soft_deleted_at = $2`, [ctx.clock.now()]);
      });
    },
    async undelete(id) {
      return ctx.exec.transaction(async (tx) => {
        const cur = await find(tx, id, true);
        if (cur.state !== 'soft_deleted') {
          throw new UserErrorInvalidInput(`recovery point "${id}" is ${cur.state.replace('_', '-')}, not soft-deleted`, {
            hint: cur.state === 'purged' ? 'A purged recovery point cannot be recovered.' : 'Only a soft-deleted recovery point can be undeleted.',
            details: { recoveryPointId: id },
          });
        }
        return transition(tx, id, `state = 'available', soft_deleted_at = NULL`, []);
      });
    },
    async purge(id) {
      return ctx.exec.transaction(async (tx) => {
        const rows = await tx.query(
          `SELECT ${rpColumns}, v.soft_delete_days FROM recovery_points rp JOIN vaults v ON v.id = rp.vault_id WHERE rp.id = $1 FOR UPDATE OF rp`, [id]);
        if (!rows[0]) throw notFound('recovery point', id);
        const cur = toRow(rows[0]);
        const due = cur.softDeletedAt && cur.softDeletedAt.getTime() + Number(rows[0].soft_delete_days) * 86_400_000 <= ctx.clock.now().getTime();
        if (cur.state !== 'soft_deleted' || !due) {
          throw new UserErrorInvalidInput(`recovery point "${id}" cannot be purged yet`, {
            hint: 'Only a soft-deleted recovery point whose soft-delete days have passed is purged.', details: { recoveryPointId: id, state: cur.state },
          });
        }
        return transition(tx, id, `state = 'purged'`, []);
      });
    },
    async countAvailable(instanceId) {
      const rows = await ctx.exec.query<{ n: number }>(`SELECT count(*)::int AS n FROM recovery_points WHERE instance_id = $1 AND state = 'available'`, [instanceId]);
      return Number(rows[0]?.n ?? 0);
    },
    async latest(instanceId) {
      const rows = await ctx.exec.query(
        `SELECT ${columns} FROM recovery_points WHERE instance_id = $1 AND state = 'available' ORDER BY created_at DESC, id DESC LIMIT 1`, [instanceId]);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
  };
}
