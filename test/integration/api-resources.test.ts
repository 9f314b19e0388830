/** Vaults, secrets, policies and backup instances through the API on a real app: vault create initialises an
 *  encrypted vault on the filesystem (or attaches an existing one), secrets are accepted and never answered,
 *  and every bad input of the list is a 4xx with a clear code and leaves the catalog unchanged. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { FilesystemBackend } from '../../src/storage/index.ts';
import { Vault } from '../../src/vault/index.ts';
import { startTestApp, type TestApp } from './api-test-app.ts';

let t: TestApp;
let storageRoot: string;
beforeAll(async () => {
  t = await startTestApp({ retentionEveryMs: 500, workerPollMs: 200 });
  storageRoot = mkdtempSync(join(tmpdir(), 'pgvault-vaults-'));
});
afterAll(async () => {
  await t?.stop();
  if (storageRoot) rmSync(storageRoot, { recursive: true, force: true });
});

async function snapshot(): Promise<string> {
  const c = t.app.catalog;
  return JSON.stringify([await c.vaults.list(), await c.policies.list(), await c.backupInstances.list(), (await c.secrets.list()).map((s) => [s.name, s.updatedAt])]);
}

const goodPolicy = (vault: string, name: string) => ({
  vault,
  name,
  schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/P1D', timeZone: 'Europe/Berlin' }],
  retentionRules: [
    { tag: 'Default', duration: 'P30D', priority: 0 },
    { tag: 'Yearly', duration: 'P10Y', priority: 3 },
  ],
});

describe('API: secrets', () => {
  it('stores a secret and never answers its value', async () => {
    const value = 'vault-passphrase-0123456789';
    const res = await t.http('PUT', '/v1/secrets/vault-key', { body: { value } });
    expect(res.status).toBe(200);
    expect(res.json.name).toBe('vault-key');
    expect(JSON.stringify(res.json)).not.toContain(value);
    const list = await t.http('GET', '/v1/secrets');
    expect(JSON.stringify(list.json)).not.toContain(value);
    expect((list.json.items as Array<{ name: string }>).map((s) => s.name)).toContain('vault-key');
    const audit = await t.http('GET', '/v1/audit?limit=50');
    expect(JSON.stringify(audit.json)).not.toContain(value);
    const rows = await t.app.catalog.executor.query<{ t: string }>('SELECT row_to_json(s)::text AS t FROM secrets s');
    expect(rows.map((r) => r.t).join()).not.toContain(value);
  });
  it('refuses unknown fields and bad names, changing nothing', async () => {
    const before = await snapshot();
    expect((await t.http('PUT', '/v1/secrets/x', { body: { value: 'abcdef', note: 'n' } })).json.code).toBe('UserErrorInvalidInput');
    expect((await t.http('PUT', "/v1/secrets/it's", { body: { value: 'abcdef' } })).json.code).toBe('UserErrorInvalidInput');
    expect((await t.http('PUT', '/v1/secrets/x', { body: { value: '' } })).json.code).toBe('UserErrorInvalidInput');
    expect((await t.http('DELETE', '/v1/secrets/never-was')).status).toBe(404);
    expect(await snapshot()).toBe(before);
  });
});

describe('API: vaults', () => {
  it('creates an encrypted vault at a file:// URL, lists and shows it', async () => {
    const dir = join(storageRoot, 'main');
    const res = await t.http('POST', '/v1/vaults', { body: { name: 'main', storageUrl: `file://${dir}`, keyReference: 'secret:vault-key', softDeleteDays: 7 } });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    expect(res.json).toMatchObject({ name: 'main', storageUrl: `file://${dir}`, keyReference: 'secret:vault-key', softDeleteDays: 7, immutability: 'off' });
    expect(existsSync(join(dir, 'config'))).toBe(true);
    expect(readdirSync(join(dir, 'keys')).length).toBe(1);
    const shown = await t.http('GET', '/v1/vaults/main');
    expect(shown.json.id).toBe(res.json.id);
    const list = await t.http('GET', '/v1/vaults');
    expect((list.json.items as unknown[]).length).toBe(1);
  });

  it('attaches a vault that already exists at the location when the key opens it', async () => {
    const dir = join(storageRoot, 'main');
    // A second catalog entry for the same location is a conflict; a fresh name on a fresh catalog would attach.
    const dup = await t.http('POST', '/v1/vaults', { body: { name: 'again', storageUrl: `file://${dir}`, keyReference: 'secret:vault-key' } });
    expect(dup.status).toBe(409);
    // A vault that exists in storage but not in this catalog (written by another catalog, or before a rebuild):
    // creating it under the same key opens it instead of initialising it again. (Deleting the live row of
    // "main" would race the periodic retention jobs that reference it.)
    const other = join(mkdtempSync(join(tmpdir(), 'pgvault-elsewhere-')), 'vault');
    onTestFinished(() => rmSync(dirname(other), { recursive: true, force: true }));
    const made = await Vault.create(new FilesystemBackend(other), { passphrase: 'vault-passphrase-0123456789', kdf: { N: 1024, r: 8, p: 1 } });
    await made.close();
    const keysBefore = readdirSync(join(other, 'keys'));
    const attached = await t.http('POST', '/v1/vaults', { body: { name: 'elsewhere', storageUrl: `file://${other}`, keyReference: 'secret:vault-key', softDeleteDays: 7 } });
    expect(attached.status, JSON.stringify(attached.json)).toBe(201);
    expect(attached.json.id).not.toBe((await t.app.catalog.vaults.get('main')).id);
    expect(readdirSync(join(other, 'keys'))).toEqual(keysBefore);
  });

  it('refuses a wrong key for an existing vault, changing nothing', async () => {
    await t.http('PUT', '/v1/secrets/wrong-key', { body: { value: 'not-the-passphrase' } });
    const before = await snapshot();
    const res = await t.http('POST', '/v1/vaults', { body: { name: 'thief', storageUrl: `file://${join(storageRoot, 'main')}/`, keyReference: 'secret:wrong-key' } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.json.code).toBe('UserErrorWrongPassphrase');
    expect(await snapshot()).toBe(before);
  });

  it('bad vault input → 4xx with a clear code, nothing created anywhere', async () => {
    const before = await snapshot();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'v1', storageUrl: 'ftp://example.com/vault', keyReference: 'secret:vault-key' }, 'UserErrorInvalidStorageUrl'],
      [{ name: 'v2', storageUrl: 'gopher:x', keyReference: 'secret:vault-key' }, 'UserErrorInvalidStorageUrl'],
      [{ name: 'v3', storageUrl: `file://${storageRoot}/a/../../etc`, keyReference: 'secret:vault-key' }, 'UserErrorInvalidStorageUrl'],
      [{ name: 'v4', storageUrl: `file://${storageRoot}/a/%2e%2e/b`, keyReference: 'secret:vault-key' }, 'UserErrorInvalidStorageUrl'],
      [{ name: 'v5', storageUrl: 'file://otherhost/srv/v', keyReference: 'secret:vault-key' }, 'UserErrorInvalidStorageUrl'],
      [{ name: 'v6', storageUrl: `file://${storageRoot}/v6`, keyReference: 'secret:no-such-secret' }, 'UserErrorCredentialNotFound'],
      [{ name: 'v7', storageUrl: `file://${storageRoot}/v7`, keyReference: 'password:hunter2' }, 'UserErrorInvalidInput'],
      [{ name: '../v8', storageUrl: `file://${storageRoot}/v8`, keyReference: 'secret:vault-key' }, 'UserErrorInvalidInput'],
      [{ name: 'v9', storageUrl: `file://${storageRoot}/v9`, keyReference: 'secret:vault-key', softDeleteDays: -1 }, 'UserErrorInvalidInput'],
      [{ name: 'main', storageUrl: `file://${storageRoot}/v10`, keyReference: 'secret:vault-key' }, 'UserErrorConflict'],
    ];
    for (const [body, code] of cases) {
      const res = await t.http('POST', '/v1/vaults', { body });
      expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.json)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.json.code, JSON.stringify(body)).toBe(code);
      expect(res.json.hint, JSON.stringify(body)).toBeTruthy();
    }
    expect(await snapshot()).toBe(before);
    expect(readdirSync(storageRoot).sort()).toEqual(['main']);
  });
});

describe('serve applies retention on its own', () => {
  it('enqueues a retention job per vault periodically, and a worker runs it', async () => {
    const deadline = Date.now() + 30_000;
    let jobs: Array<{ state: string; requestedBy: string }> = [];
    while (Date.now() < deadline) {
      jobs = (await t.http('GET', '/v1/jobs?type=retention&vault=main&state=succeeded')).json.items as typeof jobs;
      if (jobs.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(jobs.length).toBeGreaterThan(0);
    expect(jobs[0]!.requestedBy).toBe('serve');
  });
});

describe('API: policies', () => {
  it('creates, lists and shows a policy', async () => {
    const res = await t.http('POST', '/v1/policies', { body: goodPolicy('main', 'daily') });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const shown = await t.http('GET', `/v1/policies/${res.json.id as string}`);
    expect(shown.json.name).toBe('daily');
    expect((await t.http('GET', '/v1/policies/daily')).json.id).toBe(res.json.id);
    const list = await t.http('GET', '/v1/policies?vault=main');
    expect((list.json.items as unknown[]).length).toBe(1);
  });

  it('bad schedules and retention → 4xx with a clear code, nothing created', async () => {
    const before = await snapshot();
    const bad = (patch: Record<string, unknown>) => ({ ...goodPolicy('main', 'bad'), ...patch });
    const cases: Array<Record<string, unknown>> = [
      bad({ schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/P0D', timeZone: 'UTC' }] }),
      bad({ schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/PT0S', timeZone: 'UTC' }] }),
      bad({ schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/-P1D', timeZone: 'UTC' }] }),
      bad({ schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/P1D', timeZone: 'Mars/Olympus' }] }),
      bad({ schedules: [] }),
      bad({ retentionRules: [{ tag: 'Default', duration: 'P11Y', priority: 0 }] }),
      bad({ retentionRules: [{ tag: 'Default', duration: 'P10Y1D', priority: 0 }] }),
      bad({ retentionRules: [{ tag: 'Default', duration: '-P1D', priority: 0 }] }),
      bad({ retentionRules: [{ tag: 'Weekly', duration: 'P4W', priority: 1 }] }),
      bad({ retentionRules: [{ tag: 'Daily', duration: 'P4W', priority: 1 }] }),
      bad({ vault: 'no-such-vault' }),
      bad({ name: 'daily' }),
      bad({ owner: 'me' }),
    ];
    for (const body of cases) {
      const res = await t.http('POST', '/v1/policies', { body });
      expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.json)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(String(res.json.code)).toMatch(/^UserError/);
      expect(res.json.detail).toBeTruthy();
    }
    expect(await snapshot()).toBe(before);
  });
});

describe('API: backup instances', () => {
  const instance = (patch: Record<string, unknown> = {}) => ({
    name: 'app-db',
    vault: 'main',
    policy: 'daily',
    datasource: { kind: 'database', serverUrl: 'postgresql://backup@127.0.0.1:5432/postgres', databaseName: 'app' },
    credentialReference: 'secret:vault-key',
    ...patch,
  });

  it('bad instance input → 4xx, nothing created', async () => {
    const before = await snapshot();
    const cases = [
      instance({ policy: 'no-such-policy' }),
      instance({ datasource: { kind: 'database', serverUrl: 'postgresql://backup:pw@127.0.0.1:5432/postgres', databaseName: 'app' } }),
      instance({ datasource: { kind: 'database', serverUrl: 'mysql://127.0.0.1/x', databaseName: 'app' } }),
      instance({ credentialReference: 'hunter2' }),
      instance({ name: 'a"b' }),
      instance({ extra: 1 }),
    ];
    for (const body of cases) {
      const res = await t.http('POST', '/v1/instances', { body });
      expect(res.status, `${JSON.stringify(body)} → ${JSON.stringify(res.json)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(String(res.json.code)).toMatch(/^UserError/);
      expect(JSON.stringify(res.json)).not.toContain(':pw@');
    }
    expect(await snapshot()).toBe(before);
  });
});
