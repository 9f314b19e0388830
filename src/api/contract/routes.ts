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
  vaultCreate: route({ method: 'POST', url: '/v1/vaults', permission: 'manage', summary: 'Create a vault: initialises the vault at its storage URL, or attaches it if one is there and the key opens it', status: 201, body: S.VaultCreate, response: S.Vault }),
  vaultList: route({ method: 'GET', url: '/v1/vaults', permission: 'read', summary: 'List vaults', status: 200, query: S.PageQuery, response: S.VaultList }),
  vaultShow: route({ method: 'GET', url: '/v1/vaults/:ref', permission: 'read', summary: 'One vault by name or id', status: 200, params: S.IdOrNameParams, response: S.Vault }),

  vaultAttach: route({ method: 'POST', url: '/v1/vaults/attach', permission: 'manage', summary: 'Attach an existing vault: record it and list its recovery points from its manifests (imported points keep no expiry)', status: 201, body: S.VaultCreate, response: S.VaultAttached }),
  vaultCheck: route({ method: 'POST', url: '/v1/vaults/:ref/check', permission: 'backup', summary: 'Verify the vault structure (readData: also read and authenticate every blob): answers 202 with the job', status: 202, params: S.IdOrNameParams, body: S.VaultCheckRequest, response: S.Job }),
  vaultRetention: route({ method: 'POST', url: '/v1/vaults/:ref/retention', permission: 'manage', summary: "Apply retention now: expire due points (never an instance's last), purge soft-deleted points past the vault's soft-delete days: 202 with the job", status: 202, params: S.IdOrNameParams, body: S.EmptyBody, response: S.Job }),
  vaultPrune: route({ method: 'POST', url: '/v1/vaults/:ref/prune', permission: 'manage', summary: 'Remove the data of purged recovery points (two-phase, safe beside running backups): 202 with the job', status: 202, params: S.IdOrNameParams, body: S.EmptyBody, response: S.Job }),

  secretSet: route({ method: 'PUT', url: '/v1/secrets/:name', permission: 'manage', summary: 'Create or replace a secret in the pgvault secret store (the value is never answered)', status: 200, params: S.NameParams, body: S.SecretSet, response: S.SecretInfo }),
  secretList: route({ method: 'GET', url: '/v1/secrets', permission: 'read', summary: 'List secret names (never values)', status: 200, query: S.PageQuery, response: S.SecretList }),
  secretDelete: route({ method: 'DELETE', url: '/v1/secrets/:name', permission: 'manage', summary: 'Delete a secret', status: 200, params: S.NameParams, response: S.SecretInfo }),

  policyCreate: route({ method: 'POST', url: '/v1/policies', permission: 'manage', summary: 'Create a policy in a vault: schedules and retention rules', status: 201, body: S.PolicyCreate, response: S.Policy }),
  policyList: route({ method: 'GET', url: '/v1/policies', permission: 'read', summary: 'List policies, optionally of one vault', status: 200, query: S.VaultFilter, response: S.PolicyList }),
  policyShow: route({ method: 'GET', url: '/v1/policies/:ref', permission: 'read', summary: 'One policy by id', status: 200, params: S.IdOrNameParams, response: S.Policy }),

  instanceCreate: route({ method: 'POST', url: '/v1/instances', permission: 'manage', summary: 'Protect a datasource under a policy (runs the pre-flight first)', status: 201, body: S.InstanceCreate, response: S.Instance }),
  instanceList: route({ method: 'GET', url: '/v1/instances', permission: 'read', summary: 'List backup instances, optionally of one vault', status: 200, query: S.VaultFilter, response: S.InstanceList }),
  instanceShow: route({ method: 'GET', url: '/v1/instances/:ref', permission: 'read', summary: 'One backup instance by name or id', status: 200, params: S.IdOrNameParams, response: S.Instance }),
  instanceStop: route({ method: 'POST', url: '/v1/instances/:ref/stop', permission: 'manage', summary: 'Stop protection, retaining or deleting the data', status: 200, params: S.IdOrNameParams, body: S.InstanceStop, response: S.Instance }),
  instanceSuspend: route({ method: 'POST', url: '/v1/instances/:ref/suspend', permission: 'manage', summary: 'Suspend scheduled backups', status: 200, params: S.IdOrNameParams, response: S.Instance }),
  instanceResume: route({ method: 'POST', url: '/v1/instances/:ref/resume', permission: 'manage', summary: 'Resume protection', status: 200, params: S.IdOrNameParams, response: S.Instance }),
  instanceValidate: route({ method: 'POST', url: '/v1/instances/:ref/validate', permission: 'backup', summary: 'Run the pre-flight again (connection, versions, privileges) and answer its report or its coded error', status: 200, params: S.IdOrNameParams, response: S.ValidationReport }),
  backupNow: route({ method: 'POST', url: '/v1/instances/:ref/backup', permission: 'backup', summary: 'On-demand backup: answers 202 with the queued job', status: 202, params: S.IdOrNameParams, body: S.BackupRequest, response: S.Job }),

  jobList: route({ method: 'GET', url: '/v1/jobs', permission: 'read', summary: 'List jobs, newest first, filtered by vault, instance, type, state and time range', status: 200, query: S.JobFilter, response: S.JobList }),
  jobShow: route({ method: 'GET', url: '/v1/jobs/:id', permission: 'read', summary: 'One job with its progress, figures and error', status: 200, params: S.IdParams, response: S.Job }),
  jobLog: route({ method: 'GET', url: '/v1/jobs/:id/log', permission: 'read', summary: 'The log lines of a job', status: 200, params: S.IdParams, response: S.JobLog }),

  pointList: route({ method: 'GET', url: '/v1/points', permission: 'read', summary: 'List recovery points, newest first', status: 200, query: S.PointFilter, response: S.RecoveryPointList }),
  pointShow: route({ method: 'GET', url: '/v1/points/:id', permission: 'read', summary: 'One recovery point', status: 200, params: S.IdParams, response: S.RecoveryPoint }),
  pointDelete: route({ method: 'DELETE', url: '/v1/points/:id', permission: 'manage', summary: 'Delete a recovery point (soft delete: recoverable for the vault\'s soft-delete days; a locked vault refuses before expiry)', status: 200, params: S.IdParams, response: S.RecoveryPoint }),
  pointUndelete: route({ method: 'POST', url: '/v1/points/:id/undelete', permission: 'manage', summary: 'Bring back a soft-deleted recovery point', status: 200, params: S.IdParams, response: S.RecoveryPoint }),
  restore: route({ method: 'POST', url: '/v1/points/:id/restore', permission: 'restore', summary: 'Restore a recovery point as a new database: answers 202 with the queued job', status: 202, params: S.IdParams, body: S.RestoreRequest, response: S.Job }),
  restoreFiles: route({ method: 'POST', url: '/v1/points/:id/restore-files', permission: 'restore', summary: 'Write a recovery point as pg_dump files: answers 202 with the queued job', status: 202, params: S.IdParams, body: S.RestoreFilesRequest, response: S.Job }),

  grants: route({ method: 'GET', url: '/v1/grants', permission: 'read', summary: 'The SQL that grants a role what logical backups need', status: 200, query: S.GrantsQuery, response: S.GrantsScript }),
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
