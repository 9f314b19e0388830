/** Queries on vaults: a named store on one storage URL with a key reference (never the key), soft-delete days
 *  and an immutability setting. Enforces that locked immutability is final (off and unlocked may change freely;
 *  locked never goes back) and, for a locked vault, that soft-delete days never shrink. */
import { UserErrorVaultLocked } from '../catalog-errors.ts';
import { newId, isId } from '../new-id.ts';
import { validateCredentialReference, validateEnum, validateInteger, validateName, validateStorageUrl } from '../validation.ts';
import { notFound, toDate, type QueryContext } from './query-context.ts';

export const immutabilitySettings = ['off', 'unlocked', 'locked'] as const;
export type Immutability = (typeof immutabilitySettings)[number];

export interface VaultRow {
  id: string;
  name: string;
  storageUrl: string;
  /** A credential reference to the key-encryption key or passphrase; resolved by src/secrets. */
  keyReference: string;
  softDeleteDays: number;
  immutability: Immutability;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewVault {
  name: string;
  storageUrl: string;
  keyReference: string;
  /** Days a soft-deleted recovery point stays recoverable before purge; 0–3650, default 14. */
  softDeleteDays?: number;
  immutability?: Immutability;
}

export interface VaultPatch {
  storageUrl?: string;
  keyReference?: string;
  softDeleteDays?: number;
  immutability?: Immutability;
}

/** get() throws UserErrorNotFound; find() returns undefined. Both accept an id or a name. */
export interface VaultQueries {
  create(input: NewVault): Promise<VaultRow>;
  get(idOrName: string): Promise<VaultRow>;
  find(idOrName: string): Promise<VaultRow | undefined>;
  list(): Promise<VaultRow[]>;
  update(id: string, patch: VaultPatch): Promise<VaultRow>;
  /** Refused (UserErrorConflict) while policies, instances, recovery points or jobs still reference it. */
  delete(id: string): Promise<void>;
}

const columns = 'id, name, storage_url, key_reference, soft_delete_days, immutability, created_at, updated_at';

function toRow(r: Record<string, unknown>): VaultRow {
  return {
    id: r.id as string,
    name: r.name as string,
    storageUrl: r.storage_url as string,
    keyReference: r.key_reference as string,
    softDeleteDays: Number(r.soft_delete_days),
    immutability: r.immutability as Immutability,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

export function vaultQueries(ctx: QueryContext): VaultQueries {
  const find = async (idOrName: string): Promise<VaultRow | undefined> => {
    const col = isId('vault', idOrName) ? 'id' : 'name';
    const rows = await ctx.exec.query(`SELECT ${columns} FROM vaults WHERE ${col} = $1`, [idOrName]);
    return rows[0] ? toRow(rows[0]) : undefined;
  };
  const get = async (idOrName: string): Promise<VaultRow> => {
    const row = await find(idOrName);
    if (!row) throw notFound('vault', idOrName);
    return row;
  };
  return {
    async create(input) {
      const name = validateName('name', input.name);
      const storageUrl = validateStorageUrl('storageUrl', input.storageUrl);
      const keyReference = validateCredentialReference('keyReference', input.keyReference);
      const softDeleteDays = validateInteger('softDeleteDays', input.softDeleteDays ?? 14, 0, 3650);
      const immutability = validateEnum('immutability', input.immutability ?? 'off', immutabilitySettings);
      const now = ctx.clock.now();
      const rows = await ctx.exec.query(
        `INSERT INTO vaults (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ${columns}`,
        [newId('vault', ctx.clock), name, storageUrl, keyReference, softDeleteDays, immutability, now]);
      return toRow(rows[0]!);
    },
    get,
    find,
    async list() {
      const rows = await ctx.exec.query(`SELECT ${columns} FROM vaults ORDER BY name`);
      return rows.map(toRow);
    },
    async update(id, patch) {
      return ctx.exec.transaction(async (tx) => {
        const rows = await tx.query(`SELECT ${columns} FROM vaults WHERE id = $1 FOR UPDATE`, [id]);
        if (!rows[0]) throw notFound('vault', id);
        const cur = toRow(rows[0]);
        const next = {
          storageUrl: patch.storageUrl === undefined ? cur.storageUrl : validateStorageUrl('storageUrl', patch.storageUrl),
          keyReference: patch.keyReference === undefined ? cur.keyReference : validateCredentialReference('keyReference', patch.keyReference),
          softDeleteDays: patch.softDeleteDays === undefined ? cur.softDeleteDays : validateInteger('softDeleteDays', patch.softDeleteDays, 0, 3650),
          immutability: patch.immutability === undefined ? cur.immutability : validateEnum('immutability', patch.immutability, immutabilitySettings),
        };
        if (cur.immutability === 'locked' && next.immutability !== 'locked') {
          throw new UserErrorVaultLocked(`vault "${cur.name}" is locked: its immutability can never be turned off or unlocked`, {
            hint: 'A locked vault stays locked. Create a new vault if you need one without immutability.',
            details: { vault: cur.name },
          });
        }
        if (cur.immutability === 'locked' && next.softDeleteDays < cur.softDeleteDays) {
          throw new UserErrorVaultLocked(`vault "${cur.name}" is locked: soft-delete days cannot shrink from ${cur.softDeleteDays} to ${next.softDeleteDays}`, {
            hint: 'A locked vault refuses any shortening of retention; keep or raise the soft-delete days.',
            details: { vault: cur.name },
          });
        }
        if (cur.immutability === 'locked' && next.storageUrl !== cur.storageUrl) {
          throw new UserErrorVaultLocked(`vault "${cur.name}" is locked: its storage URL cannot change`, {
            hint: 'A locked vault keeps its storage location.', details: { vault: cur.name },
          });
        }
        const out = await tx.query(
          `UPDATE vaults SET storage_url = $2, key_reference = $3, soft_delete_days = $4, immutability = $5, updated_at = $6
           WHERE id = $1 RETURNING ${columns}`,
          [id, next.storageUrl, next.keyReference, next.softDeleteDays, next.immutability, ctx.clock.now()]);
        return toRow(out[0]!);
      });
    },
    async delete(id) {
      const rows = await ctx.exec.query('DELETE FROM vaults WHERE id = $1 RETURNING id', [id]);
      if (!rows[0]) throw notFound('vault', id);
    },
  };
}
