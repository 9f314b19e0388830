/** Routes for work: on-demand backup, restore and restore-files (each answers 202 with the queued job),
 *  jobs with filters and cursor pagination, job logs, and recovery points. */
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { routes } from '../contract/index.ts';
import { addRoute, type ApiServer, type AuthContext } from '../add-route.ts';
import { decodeCursor, defaultLimit, encodeCursor, pageDescending } from '../pagination.ts';
import type { Actor, GrantScriptFn, JobService, PointService } from '../ports.ts';

function actorOf(auth: AuthContext | null): Actor {
  return auth ? { tokenId: auth.tokenId, name: auth.name } : { tokenId: 'anonymous', name: 'anonymous' };
}

export function jobRoutes(api: ApiServer, jobs: JobService): void {
  addRoute(api, routes.backupNow, async ({ params, body, auth, setAuditTarget }) => {
    setAuditTarget(`instance:${params.ref}`);
    return jobs.enqueueBackup(params.ref, body ?? {}, actorOf(auth));
  });
  addRoute(api, routes.restore, async ({ params, body, auth, setAuditTarget }) => {
    setAuditTarget(`point:${params.id}`);
    return jobs.enqueueRestore(params.id, body, actorOf(auth));
  });
  addRoute(api, routes.restoreFiles, async ({ params, body, auth, setAuditTarget }) => {
    setAuditTarget(`point:${params.id}`);
    return jobs.enqueueRestoreFiles(params.id, body, actorOf(auth));
  });
  addRoute(api, routes.vaultCheck, async ({ params, body, auth, setAuditTarget }) => {
    setAuditTarget(`vault:${params.ref}`);
    return jobs.enqueueVaultJob(params.ref, 'check', { readData: body?.readData === true }, actorOf(auth));
  });
  addRoute(api, routes.vaultRetention, async ({ params, auth, setAuditTarget }) => {
    setAuditTarget(`vault:${params.ref}`);
    return jobs.enqueueVaultJob(params.ref, 'retention', {}, actorOf(auth));
  });
  addRoute(api, routes.vaultPrune, async ({ params, auth, setAuditTarget }) => {
    setAuditTarget(`vault:${params.ref}`);
    return jobs.enqueueVaultJob(params.ref, 'prune', {}, actorOf(auth));
  });
  addRoute(api, routes.jobList, async ({ query }) => {
    const { cursor, limit: asked, ...filter } = query;
    if (filter.since && filter.until && filter.since > filter.until) {
      throw new UserErrorInvalidInput('query field "since" is after "until"', { hint: 'Give a time range with since <= until (ISO 8601 date-times).', details: { field: 'since' } });
    }
    const limit = asked ?? defaultLimit;
    const after = decodeCursor(cursor);
    const rows = await jobs.list({ ...filter, limit: limit + 1, ...(after ? { before: { createdAt: after.k, id: after.id } } : {}) });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ k: last.createdAt, id: last.id }) : null };
  });
  addRoute(api, routes.jobShow, async ({ params }) => jobs.get(params.id));
  addRoute(api, routes.jobLog, async ({ params }) => ({ lines: await jobs.log(params.id) }));
}

export function pointRoutes(api: ApiServer, points: PointService): void {
  addRoute(api, routes.pointList, async ({ query }) => {
    const { vault, instance, ...page } = query;
    return pageDescending(await points.list({ ...(vault ? { vault } : {}), ...(instance ? { instance } : {}) }), page, (p) => ({ k: p.createdAt, id: p.id }));
  });
  addRoute(api, routes.pointShow, async ({ params }) => points.get(params.id));
  addRoute(api, routes.pointDelete, async ({ params, setAuditTarget }) => {
    setAuditTarget(`point:${params.id}`);
    return points.delete(params.id);
  });
  addRoute(api, routes.pointUndelete, async ({ params, setAuditTarget }) => {
    setAuditTarget(`point:${params.id}`);
    return points.undelete(params.id);
  });
}

export function grantRoutes(api: ApiServer, grants: GrantScriptFn): void {
  addRoute(api, routes.grants, async ({ query }) => ({
    script: await grants(query.role, { databases: query.database, ...(query.serverMajor === undefined ? {} : { serverMajor: query.serverMajor }) }),
  }));
}
