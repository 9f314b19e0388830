/** The API's authentication and authorization on a real app: every route declares a permission and is
 *  guarded by the one hook; each role gets 403 (coded) exactly where it lacks the permission; tokens are
 *  created (secret shown once), listed without secrets and revoked; mutating calls land in the audit log. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleAllows, roles, routes, type Role } from '../../src/api/index.ts';
import { startTestApp, type TestApp } from './api-test-app.ts';

let t: TestApp;
const tokens = {} as Record<Role, string>;

beforeAll(async () => {
  t = await startTestApp();
  for (const role of roles) {
    const r = await t.http('POST', '/v1/tokens', { body: { name: `t-${role}`, role } });
    expect(r.status).toBe(201);
    tokens[role] = r.json.token as string;
  }
});
afterAll(async () => {
  await t?.stop();
});

const concrete = (url: string) => url.replace(/:[A-Za-z]+/g, 'nothing-here');

describe('API auth', () => {
  it('every registered route declares a permission, and the route table is what is registered', () => {
    const registered = t.app.api.registeredRoutes;
    expect(registered.length).toBeGreaterThan(10);
    for (const r of registered) expect(r.permission, `${r.method} ${r.url}`).toBeDefined();
    for (const spec of Object.values(routes)) {
      const found = registered.find((r) => r.method === spec.method && r.url === spec.url);
      if (found) expect(found.permission).toBe(spec.permission);
    }
  });

  it('refuses every non-public route without a token, with a bad token and with a revoked token (401, coded)', async () => {
    const created = await t.http('POST', '/v1/tokens', { body: { name: 'to-revoke', role: 'admin' } });
    const revoked = created.json.token as string;
    expect((await t.http('DELETE', `/v1/tokens/${created.json.id as string}`)).status).toBe(200);
    for (const r of t.app.api.registeredRoutes.filter((x) => x.permission !== 'public')) {
      for (const token of [null, 'pgv_notarealtokenatallnotatall', 'Basic abc', revoked]) {
        const res = await t.http(r.method, concrete(r.url), { token, ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { body: {} }) });
        expect(res.status, `${r.method} ${r.url} with ${token === revoked ? 'revoked token' : String(token)}`).toBe(401);
        expect(res.type).toContain('application/problem+json');
        expect(res.json.code).toBe('UserErrorUnauthenticated');
        expect(res.json.hint).toBeTruthy();
      }
    }
  });

  it('each role gets 403 UserErrorPermissionDenied exactly where it lacks the permission', async () => {
    for (const role of roles) {
      for (const r of t.app.api.registeredRoutes.filter((x) => x.permission !== 'public')) {
        const res = await t.http(r.method, concrete(r.url), { token: tokens[role], ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { body: {} }) });
        const where = `${role} ${r.method} ${r.url} → ${res.status} ${String(res.json.code)}`;
        if (roleAllows(role, r.permission!)) {
          expect(res.status, where).not.toBe(403);
          expect(res.status, where).not.toBe(401);
        } else {
          expect(res.status, where).toBe(403);
          expect(res.json.code, where).toBe('UserErrorPermissionDenied');
          expect(String(res.json.hint), where).toContain('admin');
        }
      }
    }
  });

  it('each role succeeds where it has the permission', async () => {
    for (const role of roles) {
      const who = await t.http('GET', '/v1/whoami', { token: tokens[role] });
      expect(who.status).toBe(200);
      expect(who.json.role).toBe(role);
      expect((await t.http('GET', '/v1/policies', { token: tokens[role] })).status).toBe(200);
      expect((await t.http('GET', '/v1/points', { token: tokens[role] })).status).toBe(200);
      const list = await t.http('GET', '/v1/tokens', { token: tokens[role] });
      expect(list.status).toBe(role === 'admin' ? 200 : 403);
    }
    const created = await t.http('POST', '/v1/tokens', { token: tokens.admin, body: { name: 'by-admin', role: 'reader' } });
    expect(created.status).toBe(201);
  });

  it('shows a token secret once: never in lists, and the store keeps only its hash', async () => {
    const created = await t.http('POST', '/v1/tokens', { body: { name: 'once', role: 'reader' } });
    const secret = created.json.token as string;
    expect(secret).toMatch(/^pgv_/);
    const list = await t.http('GET', '/v1/tokens?limit=500');
    expect(JSON.stringify(list.json)).not.toContain(secret);
    expect(JSON.stringify(list.json)).not.toMatch(/hash/i);
    const rows = await t.app.catalog.executor.query<{ t: string }>('SELECT row_to_json(a)::text AS t FROM api_tokens a');
    expect(rows.map((r) => r.t).join('\n')).not.toContain(secret);
    // and the token works
    expect((await t.http('GET', '/v1/whoami', { token: secret })).json.name).toBe('once');
  });

  it('pages token lists with an opaque cursor', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.http('GET', `/v1/tokens?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      for (const item of res.json.items as Array<{ id: string }>) {
        expect(seen.has(item.id)).toBe(false);
        seen.add(item.id);
      }
      cursor = res.json.nextCursor as string | null;
      pages++;
    } while (cursor && pages < 50);
    const all = await t.http('GET', '/v1/tokens?limit=500');
    expect(seen.size).toBe((all.json.items as unknown[]).length);
    expect(pages).toBeGreaterThan(2);
    const bad = await t.http('GET', '/v1/tokens?cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('UserErrorInvalidInput');
  });

  it('writes every mutating call to the audit log: who, what, when, result — refused ones too', async () => {
    await t.http('POST', '/v1/tokens', { token: tokens.reader, body: { name: 'denied', role: 'admin' } });
    await t.http('POST', '/v1/tokens', { body: { name: 'audited', role: 'reader' } });
    const res = await t.http('GET', '/v1/audit?limit=5');
    expect(res.status).toBe(200);
    const items = res.json.items as Array<{ actor: string; action: string; result: string; status: number; at: string; target: string | null }>;
    const ok = items.find((i) => i.status === 201 && i.action === 'POST /v1/tokens');
    expect(ok?.actor).toMatch(/^token:tok_.* \(admin\)$/);
    expect(ok?.result).toBe('ok');
    expect(ok?.target).toMatch(/^token:tok_/);
    const denied = items.find((i) => i.status === 403);
    expect(denied?.result).toBe('UserErrorPermissionDenied');
    expect(denied?.actor).toContain('(t-reader)');
    expect(Date.now() - Date.parse(denied!.at)).toBeLessThan(60_000);
    // reads are not audited
    expect(items.every((i) => !i.action.startsWith('GET'))).toBe(true);
  });
});
