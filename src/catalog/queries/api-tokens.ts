/** Queries on API tokens, stored only as a SHA-256 hash: the token itself is shown once at creation and never
 *  stored. Roles are fixed names; a revoked or expired token never authenticates. */
import { createHash, randomBytes } from 'node:crypto';
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { newId } from '../new-id.ts';
import { validateEnum, validateName } from '../validation.ts';
import { notFound, toDate, toDateOrNull, type QueryContext } from './query-context.ts';

export const apiTokenRoles = ['reader', 'backup-operator', 'restore-operator', 'contributor', 'admin'] as const;
export type ApiTokenRole = (typeof apiTokenRoles)[number];

export interface ApiTokenRow {
  id: string;
  name: string;
  role: ApiTokenRole;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** The hash stored for a token (hex SHA-256 of its UTF-8 text). */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface ApiTokenQueries {
  /** Creates a token and returns it in clear exactly once. */
  create(input: { name: string; role: ApiTokenRole; expiresAt?: Date | null }): Promise<{ token: string; row: ApiTokenRow }>;
  /** The active (not revoked, not expired) token with this clear text, stamping last_used_at; else undefined. */
  authenticate(token: string): Promise<ApiTokenRow | undefined>;
  list(): Promise<ApiTokenRow[]>;
  revoke(idOrName: string): Promise<ApiTokenRow>;
}

const columns = 'id, name, role, created_at, expires_at, last_used_at, revoked_at';

function toRow(r: Record<string, unknown>): ApiTokenRow {
  return {
    id: r.id as string, name: r.name as string, role: r.role as ApiTokenRole, createdAt: toDate(r.created_at),
    expiresAt: toDateOrNull(r.expires_at), lastUsedAt: toDateOrNull(r.last_used_at), revokedAt: toDateOrNull(r.revoked_at),
  };
}

export function apiTokenQueries(ctx: QueryContext): ApiTokenQueries {
  return {
    async create(input) {
      const name = validateName('name', input.name);
      const role = validateEnum('role', input.role, apiTokenRoles);
      if (input.expiresAt && input.expiresAt.getTime() <= ctx.clock.now().getTime()) {
        throw new UserErrorInvalidInput('expiresAt: must be in the future', { hint: 'Give a later expiry, or none.', details: { field: 'expiresAt' } });
      }
      const token = `pgv_${randomBytes(32).toString('base64url')}`;
      const rows = await ctx.exec.query(
        `INSERT INTO api_tokens (id, name, token_hash, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${columns}`,
        [newId('apiToken', ctx.clock), name, hashApiToken(token), role, ctx.clock.now(), input.expiresAt ?? null]);
      return { token, row: toRow(rows[0]!) };
    },
    async authenticate(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 512) return undefined;
      const now = ctx.clock.now();
      const rows = await ctx.exec.query(
        `UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
         RETURNING ${columns}`, [hashApiToken(token), now]);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
    async list() {
      return (await ctx.exec.query(`SELECT ${columns} FROM api_tokens ORDER BY name`)).map(toRow);
    },
    async revoke(idOrName) {
      const rows = await ctx.exec.query(
        `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 OR name = $1 RETURNING ${columns}`, [idOrName, ctx.clock.now()]);
      if (!rows[0]) throw notFound('API token', idOrName);
      return toRow(rows[0]);
    },
  };
}
