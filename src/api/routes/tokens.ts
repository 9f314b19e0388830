/** Routes for API tokens and the caller's identity: create (the secret is answered once), list, revoke,
 *  whoami. Never answers a secret hash or a secret of an existing token. */
import { UserErrorConflict } from '../../lib/index.ts';
import { rolePermissions, routes, type Token } from '../contract/index.ts';
import { pageDescending } from '../pagination.ts';
import type { TokenRecord } from '../ports.ts';
import { addRoute, type ApiServer } from '../add-route.ts';
import { mintToken } from '../token.ts';

export function tokenView(t: TokenRecord): Token {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: t.createdAt.toISOString(),
    createdBy: t.createdBy,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

export function tokenRoutes(api: ApiServer): void {
  const { tokens } = api.deps;

  addRoute(api, routes.whoami, async ({ auth }) => {
    if (!auth) throw new UserErrorConflict('whoami needs a token');
    return { tokenId: auth.tokenId, name: auth.name, role: auth.role, permissions: [...rolePermissions[auth.role]] };
  });

  addRoute(api, routes.tokenCreate, async ({ body, auth, setAuditTarget }) => {
    const live = (await tokens.list()).find((t) => t.name === body.name && t.revokedAt === null);
    if (live) {
      throw new UserErrorConflict(`a live token named "${body.name}" already exists`, {
        hint: 'Choose another name, or revoke the existing token first (`pgvault token revoke <id>`).',
      });
    }
    const minted = mintToken();
    const record: TokenRecord = {
      id: minted.id,
      name: body.name,
      role: body.role,
      secretHash: minted.secretHash,
      createdAt: api.clock.now(),
      createdBy: auth ? `token:${auth.tokenId}` : null,
      lastUsedAt: null,
      revokedAt: null,
    };
    await tokens.insert(record);
    setAuditTarget(`token:${minted.id}`);
    return { ...tokenView(record), token: minted.token };
  });

  addRoute(api, routes.tokenList, async ({ query }) => {
    const all = (await tokens.list()).map(tokenView);
    return pageDescending(all, query, (t) => ({ k: t.createdAt, id: t.id }));
  });

  addRoute(api, routes.tokenRevoke, async ({ params, setAuditTarget }) => {
    setAuditTarget(`token:${params.id}`);
    return tokenView(await tokens.revoke(params.id, api.clock.now()));
  });
}

/** Creates a token directly in the store (the first admin token written by `serve`). */
export async function createToken(store: { insert(t: TokenRecord): Promise<void> }, name: string, role: TokenRecord['role'], now: Date): Promise<{ id: string; token: string }> {
  const minted = mintToken();
  await store.insert({ id: minted.id, name, role, secretHash: minted.secretHash, createdAt: now, createdBy: null, lastUsedAt: null, revokedAt: null });
  return { id: minted.id, token: minted.token };
}

