/** The route table of the HTTP API: method, path, required permission, and the schemas of params, query,
 *  body and the success response. The server registers exactly these routes; the CLI's client calls them
 *  by reference, so a path or a schema is written once. Paths are public API: never repurpose one. */
import type { Static, TSchema } from '@sinclair/typebox';
import { InternalErrorUnexpected } from '../../lib/index.ts';
import type { Permission } from './roles.ts';
import * as S from './schemas.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  readonly method: HttpMethod;
  /** Fastify-style path with `:param` segments. */
  readonly url: string;
  readonly permission: Permission;
  readonly summary: string;
  readonly params?: TSchema;
  readonly query?: TSchema;
  readonly body?: TSchema;
  /** Success status: 200, 201 (created) or 202 (accepted, long operation: the response is a job). */
  readonly status: 200 | 201 | 202 | 204;
  readonly response?: TSchema;
}

export type ParamsOf<R extends RouteSpec> = R['params'] extends TSchema ? Static<R['params']> : undefined;
export type QueryOf<R extends RouteSpec> = R['query'] extends TSchema ? Static<R['query']> : undefined;
export type BodyOf<R extends RouteSpec> = R['body'] extends TSchema ? Static<R['body']> : undefined;
export type ResponseOf<R extends RouteSpec> = R['response'] extends TSchema ? Static<R['response']> : undefined;

function route<const R extends RouteSpec>(r: R): R {
  return r;
}

export const routes = {
  health: route({ method: 'GET', url: '/v1/health', permission: 'public', summary: 'Liveness', status: 200, response: S.Health }),
  whoami: route({ method: 'GET', url: '/v1/whoami', permission: 'read', summary: 'The calling token and its role', status: 200, response: S.WhoAmI }),

  tokenCreate: route({ method: 'POST', url: '/v1/tokens', permission: 'admin', summary: 'Create an API token (its secret is shown once)', status: 201, body: S.TokenCreate, response: S.TokenCreated }),
  tokenList: route({ method: 'GET', url: '/v1/tokens', permission: 'admin', summary: 'List API tokens (never their secrets)', status: 200, query: S.PageQuery, response: S.TokenList }),
  tokenRevoke: route({ method: 'DELETE', url: '/v1/tokens/:id', permission: 'admin', summary: 'Revoke an API token', status: 200, params: S.IdParams, response: S.Token }),

  auditList: route({ method: 'GET', url: '/v1/audit', permission: 'admin', summary: 'The audit log of mutating calls, newest first', status: 200, query: S.PageQuery, response: S.AuditList }),
} as const;

export type RouteName = keyof typeof routes;

/** Fills `:param` segments; values are URI-encoded. */
export function routePath(url: string, params: Record<string, string> | undefined): string {
  return url.replace(/:([A-Za-z]+)/g, (_m, k: string) => {
    const v = params?.[k];
    if (v === undefined) throw new InternalErrorUnexpected(`route ${url}: missing path parameter "${k}"`);
    return encodeURIComponent(v);
  });
}
