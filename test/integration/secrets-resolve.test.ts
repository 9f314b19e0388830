/** Credential resolution end to end: env:, file: (with its permission rule), secret: through pgvault's own
 *  store sealed in a real catalog (PGlite and PostgreSQL), and azure-keyvault: through the official SDK and
 *  ClientSecretCredential against a local HTTPS Key Vault stub with the 401 challenge flow. Values are read
 *  afresh at every call (a rotated secret is picked up), are redacted once resolved, and never reach any
 *  catalog table in clear. */
import { Agent } from 'node:https';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../../src/catalog/index.ts';
import { PgvaultError, redact } from '../../src/lib/index.ts';
import {
  createAzureKeyVaultReader, loadMasterKey, masterKeyFromBytes, resolveCredential, SecretStore, type KeyVaultReader,
} from '../../src/secrets/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';
import { startKeyVaultStub, type KeyVaultStub } from '../support/keyvault-stub.ts';

const dirs: string[] = [];
let cluster: PgCluster | undefined;
let stub: KeyVaultStub | undefined;

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pgvault-secrets-'));
  dirs.push(d);
  return d;
}

async function failure(p: Promise<unknown>): Promise<PgvaultError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(PgvaultError);
  return err as PgvaultError;
}

beforeAll(async () => {
  [cluster, stub] = await Promise.all([startCluster({ major: 15 }), startKeyVaultStub()]);
  await cluster.createDatabase('secrets_scan');
});

afterAll(async () => {
  await stub?.stop();
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('env: and file: references', () => {
  it('resolves a password and a connection URI from the environment, afresh each time', async () => {
    const env: Record<string, string | undefined> = { DB_PW: 'Env-Passw0rd-1' };
    expect(await resolveCredential('env:DB_PW', { env })).toEqual({ password: 'Env-Passw0rd-1' });
    env.DB_PW = 'Env-Passw0rd-2';
    expect(await resolveCredential('env:DB_PW', { env })).toEqual({ password: 'Env-Passw0rd-2' });
    expect(redact('login with Env-Passw0rd-2 failed')).not.toContain('Env-Passw0rd-2');
    env.DB_URI = 'postgresql://backup:Uri%40Pass-77@db.example.com:5432/app?sslmode=require';
    expect(await resolveCredential('env:DB_URI', { env })).toEqual({ uri: env.DB_URI });
    expect(redact('password Uri@Pass-77 was rejected')).not.toContain('Uri@Pass-77');
    const missing = await failure(resolveCredential('env:NOT_SET_ANYWHERE', { env }));
    expect(missing.code).toBe('UserErrorCredentialNotFound');
    expect(missing.message).toContain('env:NOT_SET_ANYWHERE');
    env.EMPTY = '';
    expect((await failure(resolveCredential('env:EMPTY', { env }))).code).toBe('UserErrorCredentialEmpty');
    expect((await failure(resolveCredential('hunter2', { env }))).code).toBe('UserErrorInvalidCredentialReference');
  });

  it('reads a private file (symlinks followed, one trailing newline dropped) and refuses unsafe ones', async () => {
    const dir = tempDir();
    const file = join(dir, 'pw');
    writeFileSync(file, 'File-Passw0rd-1\n', { mode: 0o600 });
    expect(await resolveCredential(`file:${file}`)).toEqual({ password: 'File-Passw0rd-1' });
    writeFileSync(file, 'File-Passw0rd-2\r\n');
    expect(await resolveCredential(`file:${file}`)).toEqual({ password: 'File-Passw0rd-2' });
    // Kubernetes mounts secrets through symlinks; the checks apply to the target.
    mkdirSync(join(dir, '..data'));
    writeFileSync(join(dir, '..data', 'pw'), 'Linked-Passw0rd', { mode: 0o640 });
    symlinkSync(join(dir, '..data', 'pw'), join(dir, 'linked'));
    expect(await resolveCredential(`file:${join(dir, 'linked')}`)).toEqual({ password: 'Linked-Passw0rd' });

    chmodSync(file, 0o644);
    const unsafe = await failure(resolveCredential(`file:${file}`));
    expect(unsafe.code).toBe('UserErrorCredentialFileUnsafe');
    expect(unsafe.hint).toContain('chmod');
    expect(JSON.stringify(unsafe.toJSON())).not.toContain('File-Passw0rd-2');
    expect((await failure(resolveCredential(`file:${dir}`))).code).toBe('UserErrorCredentialFileUnsafe');
    expect((await failure(resolveCredential(`file:${join(dir, 'absent')}`))).code).toBe('UserErrorCredentialNotFound');
    writeFileSync(join(dir, 'empty'), '\n', { mode: 0o600 });
    expect((await failure(resolveCredential(`file:${join(dir, 'empty')}`))).code).toBe('UserErrorCredentialEmpty');
  });
});

describe('azure-keyvault: references through the SDK and a local Key Vault stub', () => {
  function reader(clientSecret = stub!.clientSecret): KeyVaultReader {
    const agent = new Agent({ ca: stub!.ca });
    // ClientSecretCredential talks to the stub's token endpoint; TLS is verified against the stub's own certificate.
    const credential = new ClientSecretCredential(stub!.tenantId, stub!.clientId, clientSecret, {
      authorityHost: stub!.url, disableInstanceDiscovery: true, agent,
    } as ConstructorParameters<typeof ClientSecretCredential>[3]);
    return createAzureKeyVaultReader({
      credential,
      clientOptions: { disableChallengeResourceVerification: true, agent, retryOptions: { maxRetries: 0 } } as never,
    });
  }

  it('resolves through the 401 challenge and picks up a changed value at the next resolution', async () => {
    const keyVault = reader();
    const v1 = stub!.setSecret('billing-db', 'Kv-Passw0rd-1');
    const ref = `azure-keyvault:${stub!.url}/secrets/billing-db`;
    expect(await resolveCredential(ref, { keyVault })).toEqual({ password: 'Kv-Passw0rd-1' });
    stub!.setSecret('billing-db', 'Kv-Passw0rd-2');
    expect(await resolveCredential(ref, { keyVault })).toEqual({ password: 'Kv-Passw0rd-2' });
    // A pinned version stays pinned.
    expect(await resolveCredential(`${ref}/${v1}`, { keyVault })).toEqual({ password: 'Kv-Passw0rd-1' });
    expect(redact('Kv-Passw0rd-2')).toBe('[redacted]');
    const paths = stub!.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(paths[0]).toBe('GET /secrets/billing-db/ 401'); // the challenge
    expect(paths.some((p) => p.endsWith('/oauth2/v2.0/token 200'))).toBe(true);
    expect(paths.filter((p) => p.startsWith('GET /secrets/billing-db') && p.endsWith(' 200'))).toHaveLength(3);
  });

  it('holds a full connection URI as well', async () => {
    stub!.setSecret('orders-uri', 'postgresql://orders:Kv-Uri-Pass-9@orders.example.com/orders');
    expect(await resolveCredential(`azure-keyvault:${stub!.url}/secrets/orders-uri`, { keyVault: reader() }))
      .toEqual({ uri: 'postgresql://orders:Kv-Uri-Pass-9@orders.example.com/orders' });
    expect(redact('auth failed for Kv-Uri-Pass-9')).not.toContain('Kv-Uri-Pass-9');
  });

  it('maps a missing secret and a refused identity to coded errors', async () => {
    const missing = await failure(resolveCredential(`azure-keyvault:${stub!.url}/secrets/nope`, { keyVault: reader() }));
    expect(missing.code).toBe('UserErrorCredentialNotFound');
    expect(missing.message).toContain('/secrets/nope');
    const denied = await failure(resolveCredential(`azure-keyvault:${stub!.url}/secrets/billing-db`, { keyVault: reader('wrong-client-secret') }));
    expect(denied.code).toBe('UserErrorCredentialAccessDenied');
    expect(JSON.stringify(denied.toJSON())).not.toContain('wrong-client-secret');
    const down = await failure(resolveCredential('azure-keyvault:https://127.0.0.1:1/secrets/billing-db', { keyVault: reader() }));
    expect(down.code).toBe('TransientErrorKeyVaultUnavailable');
  });
});

const drivers = [
  { name: 'pglite', open: (): Promise<Catalog> => openCatalog({ kind: 'embedded', dataDir: tempDir() }) },
  { name: 'postgres', open: (): Promise<Catalog> => openCatalog({ kind: 'postgres', url: cluster!.url('secrets_scan') }) },
] as const;

describe.each(drivers)('secret: references through the sealed store in the catalog on $name', ({ open }) => {
  let catalog: Catalog;
  beforeAll(async () => { catalog = await open(); });
  afterAll(async () => { await catalog?.close(); });

  it('sets, gets, lists (names only), rotates and deletes; resolves afresh each call', async () => {
    const store = new SecretStore(catalog.secrets, masterKeyFromBytes(Buffer.alloc(32, 3)));
    await store.set('app-db', 'Store-Passw0rd-1');
    expect(await resolveCredential('secret:app-db', { secretStore: store })).toEqual({ password: 'Store-Passw0rd-1' });
    await store.set('app-db', 'Store-Passw0rd-2');
    expect(await resolveCredential('secret:app-db', { secretStore: store })).toEqual({ password: 'Store-Passw0rd-2' });
    await store.set('app-uri', 'postgresql://app:Store-Uri-Pass-3@h/app');
    expect(await resolveCredential('secret:app-uri', { secretStore: store })).toEqual({ uri: 'postgresql://app:Store-Uri-Pass-3@h/app' });
    const list = await store.list();
    expect(list.map((s) => s.name)).toEqual(['app-db', 'app-uri']);
    expect(JSON.stringify(list)).not.toContain('Store-');
    expect(await store.delete('app-uri')).toBe(true);
    const missing = await failure(resolveCredential('secret:app-uri', { secretStore: store }));
    expect(missing.code).toBe('UserErrorCredentialNotFound');
    expect(missing.hint).toContain('pgvault secret set app-uri');

    // Another master key cannot read it; an altered row does not authenticate; swapped rows do not swap values.
    const otherKey = new SecretStore(catalog.secrets, masterKeyFromBytes(Buffer.alloc(32, 4)));
    expect((await failure(otherKey.get('app-db'))).code).toBe('UserErrorMasterKeyMismatch');
    await store.set('other', 'Store-Other-Pass-4');
    await catalog.executor.query(`UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE name = 'other') WHERE name = 'app-db'`);
    expect((await failure(store.get('app-db'))).code).toBe('IntegrityErrorSecretUnsealFailed');
    await expect(store.set('../x', 'v')).rejects.toMatchObject({ code: 'UserErrorInvalidInput' });
  });

  it('never lets a secret value reach any catalog table in clear', async () => {
    const dataDir = tempDir();
    const store = new SecretStore(catalog.secrets, loadMasterKey({ dataDir, env: {} }));
    const values = ['Scan-Passw0rd-Alpha', 'Scan-Uri-Pass-Beta'];
    await store.set('scan-db', values[0]!);
    await store.set('scan-uri', `postgresql://scan:${values[1]}@db.example.com/scan`);
    // Everything a backup run writes to the catalog, with the resolved secrets in its way.
    const pw = (await resolveCredential('secret:scan-db', { secretStore: store })).password!;
    const uri = (await resolveCredential('secret:scan-uri', { secretStore: store })).uri!;
    const vault = await catalog.vaults.create({ name: 'scan', storageUrl: 'file:///srv/scan', keyReference: 'secret:scan-db' });
    const policy = await catalog.policies.create({ vaultId: vault.id, name: 'scan', schedules: [{ repeatingInterval: 'R/2026-01-01T00:00:00/P1D', timeZone: 'UTC' }], retentionRules: [{ tag: 'Default', duration: 'P7D', priority: 0 }] });
    const inst = await catalog.backupInstances.create({ name: 'scan', policyId: policy.id, credentialReference: 'secret:scan-uri', datasource: { kind: 'database', serverUrl: 'postgresql://scan@db.example.com/postgres', databaseName: 'scan' } });
    const job = await catalog.jobs.create({ type: 'backup', instanceId: inst.id, vaultId: vault.id, requestedBy: 'test', params: { note: `connecting with ${pw}` } });
    await catalog.jobs.start(job.id, 'a1');
    await catalog.jobs.log(job.id, 'info', `pg_dump ${uri}`);
    await catalog.jobs.log(job.id, 'error', `password ${pw} rejected`);
    await catalog.jobs.heartbeat(job.id, 'a1', { last: `PGPASSWORD=${pw}` });
    await catalog.jobs.fail(job.id, 'a1', { code: 'UserErrorAuthenticationFailed', message: `login failed for ${uri}`, hint: `check ${pw}` });
    await catalog.auditLog.append({ actor: 'test', action: 'secret.set', resourceType: 'secret', resourceId: 'scan-db', outcome: 'succeeded', details: { value: pw, [pw]: 'as key' } });

    const tables = await catalog.executor.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'pgvault' AND table_type = 'BASE TABLE'`);
    expect(tables.length).toBeGreaterThanOrEqual(11);
    const dump: string[] = [];
    for (const { table_name } of tables) {
      const rows = await catalog.executor.query<{ t: string }>(`SELECT row_to_json(x)::text AS t FROM pgvault.${table_name} x`);
      dump.push(...rows.map((r) => r.t));
    }
    const text = dump.join('\n');
    expect(text).toContain('scan-db'); // the scan sees the rows …
    expect(text).toContain('secret:scan-uri');
    for (const v of values) {
      // … but no value, in clear, hex (bytea) or base64.
      expect(text).not.toContain(v);
      expect(text.toLowerCase()).not.toContain(Buffer.from(v).toString('hex'));
      expect(text).not.toContain(Buffer.from(v).toString('base64').slice(0, 16));
    }
  });
});
