/** Storage of pgvault's own secrets as sealed bytes: the catalog never sees a value in clear. Sealing and the
 *  master key belong to src/secrets; this file only keeps (name, sealed bytes, key id) rows. */
import { validateName, validateText } from '../validation.ts';
import { toDate, type QueryContext } from './query-context.ts';

export interface SealedSecretRow {
  name: string;
  sealed: Buffer;
  /** Which master key sealed it (a fingerprint, never the key). */
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface SecretInfo {
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface SecretRowQueries {
  /** Creates or replaces; keeps created_at of an existing secret. */
  put(name: string, sealed: Buffer, keyId: string): Promise<void>;
  get(name: string): Promise<SealedSecretRow | undefined>;
  /** Names and times only, never the sealed bytes. */
  list(): Promise<SecretInfo[]>;
  /** Returns false when no such secret existed. */
  delete(name: string): Promise<boolean>;
}

export function secretRowQueries(ctx: QueryContext): SecretRowQueries {
  return {
    async put(name, sealed, keyId) {
      const now = ctx.clock.now();
      await ctx.exec.query(
        `INSERT INTO secrets (name, sealed, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed, key_id = EXCLUDED.key_id, updated_at = EXCLUDED.updated_at`,
        [validateName('name', name), sealed, validateText('keyId', keyId, 128), now]);
    },
    async get(name) {
      const rows = await ctx.exec.query('SELECT name, sealed, key_id, created_at, updated_at FROM secrets WHERE name = $1', [name]);
      const r = rows[0];
      return r ? { name: r.name as string, sealed: r.sealed as Buffer, keyId: r.key_id as string, createdAt: toDate(r.created_at), updatedAt: toDate(r.updated_at) } : undefined;
    },
    async list() {
      const rows = await ctx.exec.query('SELECT name, created_at, updated_at FROM secrets ORDER BY name');
      return rows.map((r) => ({ name: r.name as string, createdAt: toDate(r.created_at), updatedAt: toDate(r.updated_at) }));
    },
    async delete(name) {
      const rows = await ctx.exec.query('DELETE FROM secrets WHERE name = $1 RETURNING name', [name]);
      return rows.length > 0;
    },
  };
}
