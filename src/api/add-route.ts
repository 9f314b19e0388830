/** Route registration for the HTTP API: addRoute() registers one route of the contract's table with its
 *  schemas and its declared permission (the auth hook in server.ts enforces it), and the types handlers see.
 *  A route without a permission cannot be registered. */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../lib/index.ts';
import type { BodyOf, ParamsOf, Permission, QueryOf, ResponseOf, Role, RouteSpec } from './contract/index.ts';
import type { AuditLog, GrantScriptFn, InstanceService, JobService, PointService, PolicyService, SecretService, TokenStore, VaultService } from './ports.ts';

/** The caller, as established by the bearer token. */
export interface AuthContext {
  tokenId: string;
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
  }
  interface FastifyRequest {
    auth: AuthContext | null;
    auditTarget: string | null;
    errorCode: string | null;
  }
}

export interface ApiDeps {
  tokens: TokenStore;
  audit: AuditLog;
  clock?: Clock;
  /** Largest accepted request body; default 1 MiB. */
  bodyLimitBytes?: number;
  /** A pino-compatible logger, or false for none (tests). */
  logger?: FastifyBaseLogger | false;
  version?: string;
  /** The service core; the routes of a service exist only when it is given. */
  vaults?: VaultService;
  secrets?: SecretService;
  policies?: PolicyService;
  instances?: InstanceService;
  jobs?: JobService;
  points?: PointService;
  grants?: GrantScriptFn;
  /** Route modules registered after the built-in ones (vaults, jobs …), each adding routes with addRoute(). */
  plugins?: Array<(api: ApiServer) => void>;
}

export interface ApiServer {
  readonly app: FastifyInstance;
  readonly deps: ApiDeps;
  readonly clock: Clock;
  /** Every route registered, with the permission it declares (the test of "every route is guarded" reads it). */
  readonly registeredRoutes: ReadonlyArray<{ method: string; url: string; permission: Permission | undefined }>;
}

export interface HandlerContext<R extends RouteSpec> {
  params: ParamsOf<R>;
  query: QueryOf<R>;
  body: BodyOf<R>;
  /** null only on public routes. */
  auth: AuthContext | null;
  request: FastifyRequest;
  /** Names the resource a mutating call acted on, for the audit log. */
  setAuditTarget(target: string): void;
}

/** Registers one route of the table with its schemas and its declared permission. */
export function addRoute<R extends RouteSpec>(api: ApiServer, spec: R, handler: (ctx: HandlerContext<R>) => Promise<ResponseOf<R>>): void {
  const schema: Record<string, unknown> = {
    summary: spec.summary,
    tags: [spec.url.split('/')[2] ?? 'api'],
    ...(spec.permission === 'public' ? {} : { security: [{ bearer: [] }] }),
    ...(spec.params ? { params: spec.params } : {}),
    ...(spec.query ? { querystring: spec.query } : {}),
    ...(spec.body ? { body: spec.body } : {}),
    response: {
      ...(spec.response ? { [spec.status]: spec.response } : {}),
      '4xx': { $ref: 'Problem#', description: 'application/problem+json' },
      '5xx': { $ref: 'Problem#', description: 'application/problem+json' },
    },
    description: `Requires permission \`${spec.permission}\`.`,
  };
  api.app.route({
    method: spec.method,
    url: spec.url,
    schema,
    config: { permission: spec.permission },
    handler: async (request, reply) => {
      const result = await handler({
        params: request.params as ParamsOf<R>,
        query: request.query as QueryOf<R>,
        body: request.body as BodyOf<R>,
        auth: request.auth,
        request,
        setAuditTarget: (t) => {
          request.auditTarget = t;
        },
      });
      reply.code(spec.status);
      return spec.status === 204 ? reply.send() : result;
    },
  });
}

