/** Routes for API tokens and the caller's identity: create (the token is answered once), list, revoke,
 *  whoami. Never answers a token's secret or hash after creation. */
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { rolePermissions, routes, type Token } from '../contract/index.ts';
import { addRoute, type ApiServer } from '../add-route.ts';
import { pageDescending } from '../pagination.ts';
import type { TokenInfo } from '../ports.ts';

export function tokenView(t: TokenInfo): Token {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: t.createdAt.toISOString(),
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

export function tokenRoutes(api: ApiServer): void {
  const { tokens } = api.deps;

  addRoute(api, routes.whoami, async ({ auth }) => {
    if (!auth) throw new UserErrorInvalidInput('whoami needs a token');
    return { tokenId: auth.tokenId, name: auth.name, role: auth.role, permissions: [...rolePermissions[auth.role]] };
  });

  addRoute(api, routes.tokenCreate, async ({ body, setAuditTarget }) => {
    setAuditTarget(`token:${body.name}`);
    const created = await tokens.create({ name: body.name, role: body.role });
    setAuditTarget(`token:${created.info.id}`);
    return { ...tokenView(created.info), token: created.token };
  });

  addRoute(api, routes.tokenList, async ({ query }) => {
    const all = (await tokens.list()).map(tokenView);
    return pageDescending(all, query, (t) => ({ k: t.createdAt, id: t.id }));
  });

  addRoute(api, routes.tokenRevoke, async ({ params, setAuditTarget }) => {
    setAuditTarget(`token:${params.id}`);
    return tokenView(await tokens.revoke(params.id));
  });
}
