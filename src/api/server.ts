/** The HTTP API server: Fastify with TypeBox-validated input (unknown fields refused), one authentication
 *  and authorization hook for every route, RFC 9457 problem documents for every error, an audit entry for
 *  every mutating call, and the OpenAPI document at /openapi.json generated from the route table.
 *  It never opens a database or a vault itself: all work goes through the ports in ApiDeps. */

import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import { redact, systemClock } from '../lib/index.ts';
import type { ApiDeps, ApiServer, AuthContext } from './add-route.ts';
import { Problem, roleAllows, rolePermissions, type Permission, type Role } from './contract/index.ts';
import { UserErrorPermissionDenied, UserErrorUnauthenticated } from './errors.ts';
import type { TokenStore } from './ports.ts';
import { problemOf, toPgvaultError } from './problem.ts';
import { instanceRoutes, policyRoutes, secretRoutes, vaultRoutes } from './routes/resources.ts';
import { systemRoutes } from './routes/system.ts';
import { grantRoutes, jobRoutes, pointRoutes } from './routes/work.ts';
import { tokenRoutes } from './routes/tokens.ts';

const mutating = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function buildApiServer(deps: ApiDeps): Promise<ApiServer> {
  const clock = deps.clock ?? systemClock;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    exposeHeadRoutes: false,
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: 'array', useDefaults: true } },
  });
  const registeredRoutes: Array<{ method: string; url: string; permission: Permission | undefined }> = [];
  app.addHook('onRoute', (route) => {
    const permission = (route.config as { permission?: Permission } | undefined)?.permission;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) registeredRoutes.push({ method: m, url: route.url, permission });
    if (permission === undefined) {
      throw new Error(`route ${methods.join(',')} ${route.url} declares no permission: every route must`);
    }
  });
  app.decorateRequest('auth', null);
  app.decorateRequest('auditTarget', null);
  app.decorateRequest('errorCode', null);
  app.addSchema(Problem);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'pgvault API', version: deps.version ?? '0.1.0', description: 'Errors are application/problem+json (RFC 9457) with a stable `code` and a `hint`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'pgv_… (an API token)' } } },
    },
  });

  app.addHook('onRequest', async (request) => {
    const permission = request.routeOptions.config.permission;
    if (permission === undefined || permission === 'public') return;
    const auth = await authenticate(deps.tokens, request.headers.authorization);
    request.auth = auth;
    if (!roleAllows(auth.role, permission)) {
      throw new UserErrorPermissionDenied(`token "${auth.name}" with role "${auth.role}" may not ${request.method} ${request.routeOptions.url}: it needs permission "${permission}"`, {
        hint: `Use a token whose role grants "${permission}" (${rolesGranting(permission).join(', ')}); an admin creates one with \`pgvault token create\`.`,
        details: { role: auth.role, required: permission },
      });
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toPgvaultError(err);
    request.errorCode = e.code;
    if (e.category === 'internal' || e.category === 'integrity') {
      const raw = err instanceof Error ? err : new Error(String(err));
      request.log.error({ code: e.code, err: { message: redact(raw.message), stack: redact(raw.stack ?? '') } }, 'request failed');
    }
    void reply.code(e.httpStatus).type('application/problem+json').send(JSON.stringify(problemOf(e)));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = redact(request.url.split('?')[0] ?? '');
    const e = toPgvaultError(Object.assign(new Error('not found'), { statusCode: 404 }));
    request.errorCode = e.code;
    const problem = { ...problemOf(e), detail: `no route ${request.method} ${path}`, hint: 'See /openapi.json for the routes of this server.' };
    void reply.code(404).type('application/problem+json').send(JSON.stringify(problem));
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (!mutating.has(request.method)) return payload;
    const params = (request.params ?? {}) as Record<string, unknown>;
    const target = request.auditTarget ?? (typeof params.id === 'string' ? params.id : typeof params.name === 'string' ? params.name : null);
    await deps.audit.append({
      at: clock.now(),
      actor: request.auth ? `token:${request.auth.tokenId} (${request.auth.name})` : 'anonymous',
      action: `${request.method} ${request.routeOptions.url ?? redact(request.url.split('?')[0] ?? '')}`,
      target,
      result: reply.statusCode < 400 ? 'ok' : (request.errorCode ?? `HTTP ${reply.statusCode}`),
      status: reply.statusCode,
    });
    return payload;
  });

  const api: ApiServer = { app, deps, clock, registeredRoutes };
  app.get('/openapi.json', { config: { permission: 'public' }, schema: { hide: true } }, async () => app.swagger());
  systemRoutes(api);
  tokenRoutes(api);
  if (deps.vaults) vaultRoutes(api, deps.vaults);
  if (deps.secrets) secretRoutes(api, deps.secrets);
  if (deps.policies) policyRoutes(api, deps.policies);
  if (deps.instances) instanceRoutes(api, deps.instances);
  if (deps.jobs) jobRoutes(api, deps.jobs);
  if (deps.points) pointRoutes(api, deps.points);
  if (deps.grants) grantRoutes(api, deps.grants);
  for (const plugin of deps.plugins ?? []) plugin(api);
  return api;
}

function rolesGranting(permission: Permission): Role[] {
  return (Object.keys(rolePermissions) as Role[]).filter((r) => roleAllows(r, permission));
}

/** Tokens are `pgv_` plus base64url; anything else is refused before the store is asked. */
const tokenShape = /^pgv_[A-Za-z0-9_-]{16,200}$/;

async function authenticate(tokens: TokenStore, header: string | undefined): Promise<AuthContext> {
  const hint = 'Send `Authorization: Bearer pgv_…`; the CLI reads --token, PGVAULT_TOKEN or <data-dir>/admin.token.';
  if (!header) throw new UserErrorUnauthenticated('no bearer token in the request', { hint });
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  const token = m?.[1];
  if (token === undefined || !tokenShape.test(token)) throw new UserErrorUnauthenticated('the bearer token is not a pgvault token', { hint });
  // The store looks the token up by its SHA-256 (a unique index): timing reveals nothing about the secret,
  // and one message serves unknown, revoked and expired tokens alike.
  const info = await tokens.authenticate(token);
  if (!info) throw new UserErrorUnauthenticated('the bearer token is unknown, revoked or expired', { hint });
  return { tokenId: info.id, name: info.name, role: info.role };
}
