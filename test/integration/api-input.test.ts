/** Bad input through the API: each is a 4xx problem+json with a stable code and a hint, and nothing changes
 *  in the catalog. Also: unknown errors answer 500 InternalErrorUnexpected with no stack and no secret, and
 *  /openapi.json documents every route. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer, routes } from '../../src/api/index.ts';
import { registerSecret } from '../../src/lib/index.ts';
import { auditLogOf, tokenStoreOf } from '../../src/app/catalog-ports.ts';
import { startTestApp, type TestApp } from './api-test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.stop();
});

async function tokenCount(): Promise<number> {
  return (await t.app.catalog.apiTokens.list()).length;
}

function expectProblem(res: { status: number; type: string; json: Record<string, unknown> }, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.json)).toBe(status);
  expect(res.type).toContain('application/problem+json');
  expect(res.json).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(JSON.stringify(res.json)).not.toMatch(/\bat .*\.ts:\d+/); // no stack frames
}

describe('API bad input', () => {
  it('malformed JSON → 400 UserErrorMalformedJson; empty JSON body too', async () => {
    const before = await tokenCount();
    expectProblem(await t.http('POST', '/v1/tokens', { rawBody: '{"name": "x", "role": ' }), 400, 'UserErrorMalformedJson');
    expectProblem(await t.http('POST', '/v1/tokens', { rawBody: '' }), 400, 'UserErrorMalformedJson');
    expect(await tokenCount()).toBe(before);
  });

  it('oversized body → 413 UserErrorBodyTooLarge', async () => {
    const before = await tokenCount();
    const res = await t.http('POST', '/v1/tokens', { rawBody: JSON.stringify({ name: 'big', role: 'reader', pad: 'x'.repeat(2 * 1024 * 1024) }) });
    expectProblem(res, 413, 'UserErrorBodyTooLarge');
    expect(await tokenCount()).toBe(before);
  });

  it('unknown fields → 400 UserErrorInvalidInput naming the field', async () => {
    const before = await tokenCount();
    const res = await t.http('POST', '/v1/tokens', { body: { name: 'x', role: 'reader', isAdmin: true } });
    expectProblem(res, 400, 'UserErrorInvalidInput');
    expect(res.json.detail).toContain('"isAdmin"');
    expect(res.json.hint).toBeTruthy();
    const q = await t.http('GET', '/v1/tokens?sort=name');
    expectProblem(q, 400, 'UserErrorInvalidInput');
    expect(q.json.detail).toContain('"sort"');
    expect(await tokenCount()).toBe(before);
  });

  it('missing and ill-typed fields → 400 naming the field', async () => {
    const missing = await t.http('POST', '/v1/tokens', { body: { name: 'x' } });
    expectProblem(missing, 400, 'UserErrorInvalidInput');
    expect(missing.json.detail).toContain('"role"');
    const role = await t.http('POST', '/v1/tokens', { body: { name: 'x', role: 'root' } });
    expectProblem(role, 400, 'UserErrorInvalidInput');
    expect(role.json.detail).toContain('role');
    expectProblem(await t.http('GET', '/v1/tokens?limit=0'), 400, 'UserErrorInvalidInput');
    expectProblem(await t.http('GET', '/v1/tokens?limit=-5'), 400, 'UserErrorInvalidInput');
  });

  it('names with ../, NUL, quotes, slashes or spaces are refused in bodies and paths', async () => {
    const before = await tokenCount();
    for (const name of ['../etc', 'a/../b', 'nul\u0000byte', "quo'te", 'dq"uote', 'sp ace', '', '.hidden', 'x'.repeat(64)]) {
      const res = await t.http('POST', '/v1/tokens', { body: { name, role: 'reader' } });
      expectProblem(res, 400, 'UserErrorInvalidInput');
      expect(String(res.json.detail)).toContain('name');
    }
    for (const ref of ['..%2Fetc', '%00', "it's", 'a%22b']) {
      const res = await t.http('GET', `/v1/policies/${ref}`);
      expect([400, 404]).toContain(res.status);
      expect(res.json.code).toBe(res.status === 400 ? 'UserErrorInvalidInput' : 'UserErrorNotFound');
    }
    expect(await tokenCount()).toBe(before);
  });

  it('a non-JSON content type → 415 UserErrorUnsupportedMediaType', async () => {
    expectProblem(await t.http('POST', '/v1/tokens', { rawBody: 'name=x', contentType: 'application/x-www-form-urlencoded' }), 415, 'UserErrorUnsupportedMediaType');
  });

  it('an unknown route → 404 UserErrorNotFound as problem+json', async () => {
    const res = await t.http('GET', '/v1/nothing');
    expectProblem(res, 404, 'UserErrorNotFound');
    expect(res.json.detail).toBe('no route GET /v1/nothing');
  });

  it('an unexpected error → 500 InternalErrorUnexpected with no message, stack or secret of the original', async () => {
    const secret = 'hunter2-very-secret';
    registerSecret(secret);
    const api = await buildApiServer({
      tokens: tokenStoreOf(t.app.catalog),
      audit: auditLogOf(t.app.catalog),
      plugins: [
        (s) => {
          s.app.get('/boom', { config: { permission: 'public' } }, async () => {
            throw new Error(`connect failed for postgresql://u:${secret}@db/x`);
          });
        },
      ],
    });
    const res = await api.app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const body = res.json() as Record<string, unknown>;
    expect(body.code).toBe('InternalErrorUnexpected');
    expect(body.category).toBe('internal');
    expect(res.body).not.toContain(secret);
    expect(res.body).not.toContain('connect failed');
    expect(res.body).not.toContain('.ts:');
    await api.app.close();
  });

  it('a route without a permission cannot be registered', async () => {
    await expect(
      buildApiServer({
        tokens: tokenStoreOf(t.app.catalog),
        audit: auditLogOf(t.app.catalog),
        plugins: [(s) => s.app.get('/unguarded', async () => 'x')],
      }),
    ).rejects.toThrow(/declares no permission/);
  });

  it('serves an OpenAPI 3 document with every route of the table that is registered', async () => {
    const res = await t.http('GET', '/openapi.json', { token: null });
    expect(res.status).toBe(200);
    expect(String(res.json.openapi)).toMatch(/^3\./);
    const paths = res.json.paths as Record<string, Record<string, { security?: unknown; requestBody?: unknown }>>;
    for (const r of t.app.api.registeredRoutes.filter((x) => x.url !== '/openapi.json')) {
      const oaPath = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
      expect(paths[oaPath]?.[r.method.toLowerCase()], `${r.method} ${r.url}`).toBeDefined();
    }
    expect(paths['/v1/tokens']?.post?.requestBody).toBeDefined();
    expect(paths['/v1/tokens']?.post?.security).toEqual([{ bearer: [] }]);
    expect(routes.tokenCreate.permission).toBe('admin');
  });
});
