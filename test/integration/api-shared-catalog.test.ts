/** `serve --catalog URL`: two pgvault processes share one external PostgreSQL catalog. The first start writes
 *  the admin token; the second finds tokens and writes none; a token made through one works on the other;
 *  jobs enqueued through one are run by the workers of either. All of them share PGVAULT_MASTER_KEY. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appConfigFrom, buildApp, type App } from '../../src/app/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

let pg: PgCluster;
const apps: App[] = [];
const dirs: string[] = [];
// Every process on one catalog must hold the same master key, or none could open the others' secrets.
const masterKey = randomBytes(32).toString('base64');

beforeAll(async () => {
  pg = await startCluster({ major: 15 });
  await pg.createDatabase('pgvault_catalog');
});
afterAll(async () => {
  for (const a of apps) await a.close().catch(() => undefined);
  await pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function startOne(): Promise<{ app: App; url: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgvault-shared-'));
  dirs.push(dataDir);
  const app = await buildApp(appConfigFrom({ dataDir, catalog: pg.url('pgvault_catalog'), listen: '127.0.0.1:0', logLevel: 'silent' }), { logger: false, retentionEveryMs: 0, workerPollMs: 200, env: { PGVAULT_MASTER_KEY: masterKey } });
  apps.push(app);
  const { url } = await app.start();
  return { app, url, dataDir };
}

const call = async (url: string, token: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

describe('serve --catalog URL (shared PostgreSQL catalog)', () => {
  it('shares tokens, resources and the job queue between two processes', async () => {
    const a = await startOne();
    const b = await startOne();
    expect(a.app.catalog.driver).toBe('postgres');
    expect(existsSync(join(a.dataDir, 'admin.token'))).toBe(true);
    expect(existsSync(join(b.dataDir, 'admin.token'))).toBe(false);
    const admin = readFileSync(join(a.dataDir, 'admin.token'), 'utf8').trim();
    expect((await call(b.url, admin, 'GET', '/v1/whoami')).json.role).toBe('admin');
    const created = await call(b.url, admin, 'POST', '/v1/tokens', { name: 'ops', role: 'contributor' });
    expect(created.status).toBe(201);
    expect((await call(a.url, created.json.token as string, 'GET', '/v1/whoami')).json.name).toBe('ops');
    // the secret and vault made through one process are used by the other; its check job runs on either worker
    expect((await call(a.url, admin, 'PUT', '/v1/secrets/k', { value: 'shared-catalog-passphrase' })).status).toBe(200);
    const storage = join(a.dataDir, 'vault');
    expect((await call(b.url, admin, 'POST', '/v1/vaults', { name: 'v', storageUrl: `file://${storage}`, keyReference: 'secret:k' })).status).toBe(201);
    const job = await call(a.url, admin, 'POST', '/v1/vaults/v/check', {});
    expect(job.status).toBe(202);
    const deadline = Date.now() + 60_000;
    let state = '';
    while (state !== 'succeeded' && state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      state = String((await call(b.url, admin, 'GET', `/v1/jobs/${job.json.id as string}`)).json.state);
    }
    expect(state).toBe('succeeded');
    const audit = await call(b.url, admin, 'GET', '/v1/audit?limit=20');
    expect((audit.json.items as Array<{ action: string }>).map((i) => i.action)).toEqual(expect.arrayContaining(['POST /v1/tokens', 'PUT /v1/secrets/:name', 'POST /v1/vaults']));
  });
});
