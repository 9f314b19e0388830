/** Routes about the server itself: health (public) and the audit log (admin). */
import { routes, type AuditEntry } from '../contract/index.ts';
import { decodeCursor, encodeCursor, defaultLimit } from '../pagination.ts';
import type { AuditRecord } from '../ports.ts';
import { addRoute, type ApiServer } from '../add-route.ts';

function auditView(r: AuditRecord): AuditEntry {
  return { id: r.id, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, result: r.result, status: r.status };
}

export function systemRoutes(api: ApiServer): void {
  addRoute(api, routes.health, async () => ({ status: 'ok' as const, version: api.deps.version ?? '0.1.0' }));

  addRoute(api, routes.auditList, async ({ query }) => {
    const limit = query.limit ?? defaultLimit;
    const after = decodeCursor(query.cursor);
    const rows = await api.deps.audit.list({ limit: limit + 1, ...(after ? { before: { at: new Date(after.k), id: after.id } } : {}) });
    const items = rows.slice(0, limit).map(auditView);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ k: last.at, id: last.id }) : null };
  });
}
