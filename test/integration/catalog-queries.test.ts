/** Every catalog query against both drivers: embedded PGlite and a real PostgreSQL 15 from the test harness.
 *  Same migrations, same queries, same answers; validation errors are coded; the locked-vault rules and the
 *  job fencing hold on both. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openCatalog, TransientErrorJobAttemptSuperseded, UserErrorVaultLocked, type Catalog, type PolicyRow, type VaultRow,
} from '../../src/catalog/index.ts';
import { ManualClock, PgvaultError, UserErrorConflict, UserErrorInvalidInput, UserErrorNotFound } from '../../src/lib/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

const day = 86_400_000;

async function expectCode(p: Promise<unknown>, code: string, field?: string): Promise<PgvaultError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, `expected ${code}`).toBeInstanceOf(PgvaultError);
  const pe = err as PgvaultError;
  expect(pe.code).toBe(code);
  expect(pe.hint).toBeTruthy();
  if (field) expect(pe.details.field).toBe(field);
  return pe;
}

let cluster: PgCluster | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  await cluster.createDatabase('catalog_queries');
});

afterAll(async () => {
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const drivers = [
  {
    name: 'pglite',
    open: (clock: ManualClock): Promise<Catalog> => {
      const dir = mkdtempSync(join(tmpdir(), 'pgvault-catalog-q-'));
      dirs.push(dir);
      return openCatalog({ kind: 'embedded', dataDir: dir }, { clock });
    },
  },
  {
    name: 'postgres',
    open: (clock: ManualClock): Promise<Catalog> => openCatalog({ kind: 'postgres', url: cluster!.url('catalog_queries') }, { clock }),
  },
] as const;

describe.each(drivers)('catalog on $name', ({ name, open }) => {
  const clock = new ManualClock('2026-03-01T00:00:00Z');
  let catalog: Catalog;
  let vault: VaultRow;
  let policy: PolicyRow;

  beforeAll(async () => {
    catalog = await open(clock);
  });
  afterAll(async () => {
    await catalog?.close();
  });

  it('opens at the newest schema version on the right driver', () => {
    expect(catalog.driver).toBe(name);
    expect(catalog.schemaVersion).toBeGreaterThanOrEqual(1);
  });

  it('creates, finds, lists and updates vaults', async () => {
    vault = await catalog.vaults.create({ name: 'prod', storageUrl: 'file:///srv/vaults/prod', keyReference: 'secret:prod-key', softDeleteDays: 14 });
    expect(vault.id).toMatch(/^vault_[0-9A-Z]{26}$/);
    expect(vault).toMatchObject({ name: 'prod', immutability: 'off', softDeleteDays: 14, createdAt: clock.now() });
    expect(await catalog.vaults.get('prod')).toEqual(vault);
    expect(await catalog.vaults.get(vault.id)).toEqual(vault);
    expect(await catalog.vaults.find('nope')).toBeUndefined();
    await expectCode(catalog.vaults.get('nope'), 'UserErrorNotFound');
    await expectCode(catalog.vaults.create({ name: 'prod', storageUrl: 'file:///x', keyReference: 'env:K' }), 'UserErrorConflict');
    clock.advance(1000);
    const up = await catalog.vaults.update(vault.id, { softDeleteDays: 30, immutability: 'unlocked' });
    expect(up).toMatchObject({ softDeleteDays: 30, immutability: 'unlocked' });
    expect(up.updatedAt.getTime()).toBe(vault.createdAt.getTime() + 1000);
    vault = up;
    expect((await catalog.vaults.list()).map((v) => v.name)).toEqual(['prod']);
  });

  it('refuses bad vault input with the field named', async () => {
    const base = { name: 'v2', storageUrl: 'file:///srv/v2', keyReference: 'secret:k' };
    await expectCode(catalog.vaults.create({ ...base, name: '../etc' }), 'UserErrorInvalidInput', 'name');
    await expectCode(catalog.vaults.create({ ...base, name: 'a\0b' }), 'UserErrorInvalidInput', 'name');
    await expectCode(catalog.vaults.create({ ...base, name: 'it\'s' }), 'UserErrorInvalidInput', 'name');
    await expectCode(catalog.vaults.create({ ...base, name: 'x'.repeat(64) }), 'UserErrorInvalidInput', 'name');
    await expectCode(catalog.vaults.create({ ...base, storageUrl: 'ftp://host/x' }), 'UserErrorInvalidInput', 'storageUrl');
    await expectCode(catalog.vaults.create({ ...base, storageUrl: 'https://acct.blob.core.windows.net/c?sig=abc' }), 'UserErrorInvalidInput', 'storageUrl');
    await expectCode(catalog.vaults.create({ ...base, keyReference: 'hunter2hunter2' }), 'UserErrorInvalidInput', 'keyReference');
    await expectCode(catalog.vaults.create({ ...base, softDeleteDays: -1 }), 'UserErrorInvalidInput', 'softDeleteDays');
    const err = await expectCode(catalog.vaults.create({ ...base, keyReference: 'hunter2hunter2' }), 'UserErrorInvalidInput');
    expect(JSON.stringify(err.toJSON())).not.toContain('hunter2hunter2');
  });

  it('creates policies with validated schedules and retention rules', async () => {
    policy = await catalog.policies.create({
      vaultId: vault.id, name: 'daily',
      schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/P1D', timeZone: 'Europe/Berlin' }],
      retentionRules: [
        { tag: 'Default', duration: 'P30D', priority: 0 },
        { tag: 'Weekly', duration: 'P12W', priority: 10 },
        { tag: 'Monthly', duration: 'P12M', priority: 20 },
        { tag: 'Yearly', duration: 'P10Y', priority: 30 },
      ],
    });
    expect(policy.id).toMatch(/^pol_/);
    expect(await catalog.policies.get(policy.id)).toEqual(policy);
    expect((await catalog.policies.findByName(vault.id, 'daily'))?.id).toBe(policy.id);
    expect(await catalog.policies.list({ vaultId: vault.id })).toEqual([policy]);
    const bad = (patch: Record<string, unknown>): Promise<unknown> => catalog.policies.create({
      vaultId: vault.id, name: 'bad', schedules: policy.schedules, retentionRules: policy.retentionRules, ...patch,
    } as never);
    await expectCode(bad({ schedules: [] }), 'UserErrorInvalidInput', 'schedules');
    await expectCode(bad({ schedules: [{ repeatingInterval: 'every day', timeZone: 'UTC' }] }), 'UserErrorInvalidInput', 'schedules[0].repeatingInterval');
    await expectCode(bad({ schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/PT5M', timeZone: 'UTC' }] }), 'UserErrorInvalidInput', 'schedules[0].repeatingInterval');
    await expectCode(bad({ schedules: [{ repeatingInterval: 'R/2026-01-04T02:00:00/P1D', timeZone: 'Mars/Olympus' }] }), 'UserErrorInvalidInput', 'schedules[0].timeZone');
    await expectCode(bad({ retentionRules: [{ tag: 'Default', duration: 'P11Y', priority: 0 }] }), 'UserErrorInvalidInput', 'retentionRules[0].duration');
    await expectCode(bad({ retentionRules: [{ tag: 'Default', duration: 'P121M', priority: 0 }] }), 'UserErrorInvalidInput', 'retentionRules[0].duration');
    await expectCode(bad({ retentionRules: [{ tag: 'Weekly', duration: 'P1W', priority: 0 }] }), 'UserErrorInvalidInput', 'retentionRules');
    await expectCode(bad({ retentionRules: [{ tag: 'Hourly', duration: 'P1D', priority: 0 }] }), 'UserErrorInvalidInput', 'retentionRules[0].tag');
    await expectCode(bad({ retentionRules: [{ tag: 'Default', duration: 'P1D', priority: 0 }, { tag: 'Default', duration: 'P2D', priority: 1 }] }), 'UserErrorInvalidInput', 'retentionRules');
    await expectCode(catalog.policies.create({ ...policy, vaultId: 'vault_01ARZ3NDEKTSV4RRFFQ69G5FAV' }), 'UserErrorNotFound');
  });

  it('creates backup instances for a database and a whole server, with states', async () => {
    const db = await catalog.backupInstances.create({
      name: 'billing', policyId: policy.id, credentialReference: 'secret:billing-pw',
      datasource: { kind: 'database', serverUrl: 'postgresql://backup@db1.example.com:5432/postgres', databaseName: 'billing' },
    });
    expect(db).toMatchObject({ vaultId: vault.id, policyId: policy.id, state: 'protecting', stopMode: null,
      datasource: { kind: 'database', databaseName: 'billing', excludedDatabases: [], excludedOwners: [] } });
    const srv = await catalog.backupInstances.create({
      name: 'db2-all', policyId: policy.id, credentialReference: 'env:DB2_URI',
      datasource: { kind: 'server', serverUrl: 'postgresql://backup@db2.example.com/postgres', excludedDatabases: ['scratch'], excludedOwners: ['ci'] },
    });
    expect(srv.datasource).toEqual({ kind: 'server', serverUrl: 'postgresql://backup@db2.example.com/postgres', databaseName: null, excludedDatabases: ['scratch'], excludedOwners: ['ci'] });
    expect(await catalog.backupInstances.get('billing')).toEqual(db);
    const stopped = await catalog.backupInstances.setState(db.id, 'stopped', 'retain');
    expect(stopped).toMatchObject({ state: 'stopped', stopMode: 'retain' });
    expect((await catalog.backupInstances.list({ state: 'protecting' })).map((i) => i.name)).toEqual(['db2-all']);
    expect(await catalog.backupInstances.setState(db.id, 'protecting')).toMatchObject({ state: 'protecting', stopMode: null });
    await expectCode(catalog.backupInstances.setState(db.id, 'stopped'), 'UserErrorInvalidInput', 'stopMode');
    await expectCode(catalog.backupInstances.setState(db.id, 'suspended', 'retain'), 'UserErrorInvalidInput', 'stopMode');

    const err = await expectCode(catalog.backupInstances.create({
      name: 'leaky', policyId: policy.id, credentialReference: 'secret:x',
      datasource: { kind: 'database', serverUrl: 'postgresql://backup:Sup3rSecretPw@db1/postgres', databaseName: 'x' },
    }), 'UserErrorInvalidInput', 'datasource.serverUrl');
    expect(JSON.stringify(err.toJSON())).not.toContain('Sup3rSecretPw');
    await expectCode(catalog.backupInstances.create({
      name: 'nodb', policyId: policy.id, credentialReference: 'secret:x', datasource: { kind: 'database', serverUrl: 'postgresql://u@h/postgres' },
    }), 'UserErrorInvalidInput', 'datasource.databaseName');
    await expectCode(catalog.backupInstances.create({
      name: 'quote', policyId: policy.id, credentialReference: 'secret:x', datasource: { kind: 'database', serverUrl: 'postgresql://u@h/postgres', databaseName: 'a"b' },
    }), 'UserErrorInvalidInput', 'datasource.databaseName');
    await expectCode(catalog.policies.delete(policy.id), 'UserErrorConflict');
  });

  it('runs a job through its life with fencing and redacted log lines', async () => {
    const inst = await catalog.backupInstances.get('billing');
    const job = await catalog.jobs.create({ type: 'backup', instanceId: inst.id, vaultId: vault.id, requestedBy: 'scheduler', params: { tag: 'Default' } });
    expect(job).toMatchObject({ state: 'queued', attempts: 0, fencingToken: 0, error: null });
    expect(await catalog.jobs.hasActive(inst.id)).toBe(true);
    expect(await catalog.jobs.hasActive(inst.id, job.id)).toBe(false);
    const a1 = await catalog.jobs.start(job.id, 'attempt-1');
    expect(a1).toMatchObject({ state: 'running', attempts: 1, attemptId: 'attempt-1', fencingToken: 1 });
    await catalog.jobs.heartbeat(job.id, 'attempt-1', { bytesDumped: 10 });
    await catalog.jobs.log(job.id, 'info', 'connecting to postgresql://backup:TopSecret99@db1/postgres');
    // The lease ran out: another worker takes over; the first can no longer write.
    const a2 = await catalog.jobs.start(job.id, 'attempt-2');
    expect(a2).toMatchObject({ attempts: 2, fencingToken: 2, progress: { bytesDumped: 10 } });
    await expectCode(catalog.jobs.heartbeat(job.id, 'attempt-1'), 'TransientErrorJobAttemptSuperseded');
    await expectCode(catalog.jobs.succeed(job.id, 'attempt-1', {}), 'TransientErrorJobAttemptSuperseded');
    await expectCode(catalog.recoveryPoints.insert({
      vaultId: vault.id, instanceId: inst.id, manifestId: 'm-stale', jobId: job.id, datasourceKind: 'database', tags: ['Default'],
      createdAt: clock.now(), expiresAt: null, sizeBytes: 1, storedBytes: 1, entries: [],
    }, { jobId: job.id, attemptId: 'attempt-1' }), 'TransientErrorJobAttemptSuperseded');
    expect(await catalog.recoveryPoints.findByManifest(vault.id, 'm-stale')).toBeUndefined();
    await catalog.jobs.requeue(job.id, 'attempt-2', { code: 'TransientErrorStorageUnavailable', message: 'storage said 503', hint: 'retrying' });
    expect(await catalog.jobs.get(job.id)).toMatchObject({ state: 'queued', attemptId: null, error: { code: 'TransientErrorStorageUnavailable' } });
    await catalog.jobs.start(job.id, 'attempt-3');
    clock.advance(60_000);
    const done = await catalog.jobs.succeed(job.id, 'attempt-3', { bytesDumped: 100, dedupRatio: 2.5 });
    expect(done).toMatchObject({ state: 'succeeded', attempts: 3, error: null, figures: { bytesDumped: 100, dedupRatio: 2.5 }, finishedAt: clock.now() });
    await expectCode(catalog.jobs.start(job.id, 'attempt-4'), 'UserErrorConflict');
    expect(await catalog.jobs.cancel(job.id)).toBe(false);
    const lines = await catalog.jobs.logs(job.id);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ attempt: 1, level: 'info' });
    expect(lines[0]!.message).not.toContain('TopSecret99');
    expect((await catalog.jobs.list({ instanceId: inst.id, state: ['succeeded'] })).map((j) => j.id)).toEqual([job.id]);

    const failing = await catalog.jobs.create({ type: 'verify', vaultId: vault.id, requestedBy: 'admin' });
    await catalog.jobs.start(failing.id, 'f1');
    const failed = await catalog.jobs.fail(failing.id, 'f1', { code: 'UserErrorMissingDBPermissions', message: 'role "backup" cannot read', hint: 'GRANT SELECT …' });
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'UserErrorMissingDBPermissions', hint: 'GRANT SELECT …' } });
    const cancelled = await catalog.jobs.create({ type: 'prune', vaultId: vault.id, requestedBy: 'admin' });
    expect(await catalog.jobs.cancel(cancelled.id)).toBe(true);
    await expectCode(catalog.jobs.get('job_01ARZ3NDEKTSV4RRFFQ69G5FAV'), 'UserErrorNotFound');
    await expectCode(catalog.jobs.create({ type: 'dance' as never, requestedBy: 'x' }), 'UserErrorInvalidInput', 'type');
  });

  it('commits a fenced recovery point and the job completion in one transaction', async () => {
    const inst = await catalog.backupInstances.get('billing');
    const job = await catalog.jobs.create({ type: 'backup', instanceId: inst.id, vaultId: vault.id, requestedBy: 'admin' });
    await catalog.jobs.start(job.id, 'ok-1');
    const rp = await catalog.transaction(async (q) => {
      const point = await q.recoveryPoints.insert({
        vaultId: vault.id, instanceId: inst.id, manifestId: 'm-1', jobId: job.id, datasourceKind: 'database', tags: ['Default'],
        createdAt: clock.now(), expiresAt: new Date(clock.now().getTime() + 30 * day), sizeBytes: 2048, storedBytes: 512,
        entries: [{ name: 'billing.dump', kind: 'database', sizeBytes: 2048, sha256: 'a'.repeat(64) }],
      }, { jobId: job.id, attemptId: 'ok-1' });
      await q.jobs.succeed(job.id, 'ok-1', { sizeBytes: 2048 });
      return point;
    });
    expect(rp).toMatchObject({ state: 'available', sizeBytes: 2048, storedBytes: 512, tags: ['Default'], softDeletedAt: null });
    expect(rp.id).toMatch(/^rp_/);
    // A transaction that throws leaves nothing behind.
    await expect(catalog.transaction(async (q) => {
      await q.recoveryPoints.insert({ ...rp, manifestId: 'm-rolled-back' });
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await catalog.recoveryPoints.findByManifest(vault.id, 'm-rolled-back')).toBeUndefined();
    // Attaching the same manifest again (catalog rebuilt from the vault) is idempotent.
    const again = await catalog.recoveryPoints.insert({ ...rp, jobId: null });
    expect(again.id).toBe(rp.id);
    await expectCode(catalog.recoveryPoints.insert({ ...rp, manifestId: 'm-bad', entries: [{ name: 'x', kind: 'database', sizeBytes: 1, sha256: 'nothex' }] }), 'UserErrorInvalidInput', 'entries[0].sha256');
  });

  it('expires, soft-deletes, undeletes and purges recovery points; never expires the last one automatically', async () => {
    const inst = await catalog.backupInstances.get('db2-all');
    const t0 = clock.now().getTime();
    const mk = (m: string, createdAt: number, expiresAt: number | null): ReturnType<Catalog['recoveryPoints']['insert']> => catalog.recoveryPoints.insert({
      vaultId: vault.id, instanceId: inst.id, manifestId: m, datasourceKind: 'server', tags: ['Default'],
      createdAt: new Date(createdAt), expiresAt: expiresAt === null ? null : new Date(expiresAt), sizeBytes: 10, storedBytes: 5, entries: [],
    });
    const old = await mk('srv-1', t0, t0 + day);
    const newer = await mk('srv-2', t0 + day, t0 + 2 * day);
    clock.set(t0 + 3 * day);
    expect((await catalog.recoveryPoints.listExpired(clock.now(), { vaultId: vault.id })).map((r) => r.manifestId)).toEqual(['m-1', 'srv-1', 'srv-2'].filter((m) => m !== 'm-1'));
    expect(await catalog.recoveryPoints.expire(old.id)).toBe(true);
    expect(await catalog.recoveryPoints.expire(newer.id)).toBe(false); // the last available point of the instance stays
    expect(await catalog.recoveryPoints.countAvailable(inst.id)).toBe(1);
    expect((await catalog.recoveryPoints.latest(inst.id))?.id).toBe(newer.id);
    expect(await catalog.recoveryPoints.get(old.id)).toMatchObject({ state: 'soft_deleted', softDeletedAt: clock.now() });
    await expectCode(catalog.recoveryPoints.purge(old.id), 'UserErrorInvalidInput'); // soft-delete days (30) not passed
    expect(await catalog.recoveryPoints.undelete(old.id)).toMatchObject({ state: 'available', softDeletedAt: null });
    await catalog.recoveryPoints.softDelete(old.id);
    clock.advance(30 * day);
    expect((await catalog.recoveryPoints.listPurgeable(clock.now())).map((r) => r.id)).toEqual([old.id]);
    expect(await catalog.recoveryPoints.purge(old.id)).toMatchObject({ state: 'purged' });
    await expectCode(catalog.recoveryPoints.undelete(old.id), 'UserErrorInvalidInput');
    // By hand, the last point can go.
    expect(await catalog.recoveryPoints.softDelete(newer.id)).toMatchObject({ state: 'soft_deleted' });
    expect((await catalog.recoveryPoints.list({ instanceId: inst.id })).map((r) => r.manifestId)).toEqual(['srv-2', 'srv-1']);
  });

  it('a locked vault refuses early deletion, earlier expiry, shorter retention and unlocking', async () => {
    const inst = await catalog.backupInstances.get('billing');
    const rp = (await catalog.recoveryPoints.findByManifest(vault.id, 'm-1'))!;
    const locked = await catalog.vaults.update(vault.id, { immutability: 'locked' });
    expect(locked.immutability).toBe('locked');
    await expectCode(catalog.vaults.update(vault.id, { immutability: 'unlocked' }), 'UserErrorVaultLocked');
    await expectCode(catalog.vaults.update(vault.id, { immutability: 'off' }), 'UserErrorVaultLocked');
    await expectCode(catalog.vaults.update(vault.id, { softDeleteDays: 29 }), 'UserErrorVaultLocked');
    expect((await catalog.vaults.update(vault.id, { softDeleteDays: 31 })).softDeleteDays).toBe(31);
    const later = await catalog.recoveryPoints.insert({
      vaultId: vault.id, instanceId: inst.id, manifestId: 'm-locked', datasourceKind: 'database', tags: ['Default'],
      createdAt: clock.now(), expiresAt: new Date(clock.now().getTime() + 10 * day), sizeBytes: 1, storedBytes: 1, entries: [],
    });
    await expectCode(catalog.recoveryPoints.softDelete(later.id), 'UserErrorVaultLocked');
    await expectCode(catalog.recoveryPoints.setExpiry(later.id, new Date(clock.now().getTime() + day)), 'UserErrorVaultLocked');
    expect((await catalog.recoveryPoints.setExpiry(later.id, new Date(clock.now().getTime() + 20 * day))).expiresAt).toEqual(new Date(clock.now().getTime() + 20 * day));
    // m-1 has expired by now (30 days): a locked vault lets it go.
    expect((await catalog.recoveryPoints.softDelete(rp.id)).state).toBe('soft_deleted');
    await expectCode(catalog.policies.update(policy.id, { retentionRules: [{ tag: 'Default', duration: 'P29D', priority: 0 }, ...policy.retentionRules.slice(1)] }), 'UserErrorVaultLocked');
    await expectCode(catalog.policies.update(policy.id, { retentionRules: policy.retentionRules.slice(0, 3) }), 'UserErrorVaultLocked');
    const longer = await catalog.policies.update(policy.id, { retentionRules: [{ tag: 'Default', duration: 'P60D', priority: 0 }, ...policy.retentionRules.slice(1)] });
    expect(longer.retentionRules[0]!.duration).toBe('P60D');
  });

  it('claims each schedule occurrence exactly once, also when claimed concurrently', async () => {
    const inst = await catalog.backupInstances.get('db2-all');
    const at = new Date('2026-03-29T00:00:00Z');
    const results = await Promise.all(Array.from({ length: 8 }, () => catalog.scheduleOccurrences.claim(inst.id, at)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const job = await catalog.jobs.create({ type: 'backup', instanceId: inst.id, requestedBy: 'scheduler' });
    await catalog.scheduleOccurrences.attachJob(inst.id, at, job.id);
    expect(await catalog.scheduleOccurrences.claim(inst.id, new Date('2026-03-30T00:00:00Z'))).toBe(true);
    expect(await catalog.scheduleOccurrences.latest(inst.id)).toEqual(new Date('2026-03-30T00:00:00Z'));
    const list = await catalog.scheduleOccurrences.list(inst.id);
    expect(list.map((o) => [o.scheduledFor.toISOString(), o.jobId])).toEqual([['2026-03-29T00:00:00.000Z', job.id], ['2026-03-30T00:00:00.000Z', null]]);
  });

  it('keeps sealed secrets, hashed API tokens and an audit log', async () => {
    await catalog.secrets.put('db-pw', Buffer.from([1, 2, 3]), 'k1');
    const first = await catalog.secrets.get('db-pw');
    expect(first).toMatchObject({ name: 'db-pw', keyId: 'k1' });
    expect(Buffer.compare(first!.sealed, Buffer.from([1, 2, 3]))).toBe(0);
    clock.advance(1000);
    await catalog.secrets.put('db-pw', Buffer.from([4]), 'k1');
    const second = (await catalog.secrets.get('db-pw'))!;
    expect(second.createdAt).toEqual(first!.createdAt);
    expect(second.updatedAt.getTime()).toBe(first!.createdAt.getTime() + 1000);
    expect((await catalog.secrets.list()).map((s) => s.name)).toEqual(['db-pw']);
    expect(await catalog.secrets.delete('db-pw')).toBe(true);
    expect(await catalog.secrets.delete('db-pw')).toBe(false);
    await expectCode(catalog.secrets.put('../x', Buffer.from([1]), 'k1'), 'UserErrorInvalidInput', 'name');

    const { token, row } = await catalog.apiTokens.create({ name: 'ci', role: 'backup-operator' });
    expect(token).toMatch(/^pgv_/);
    expect((await catalog.apiTokens.authenticate(token))?.id).toBe(row.id);
    expect(await catalog.apiTokens.authenticate(`${token}x`)).toBeUndefined();
    const all = await catalog.executor.query('SELECT token_hash FROM api_tokens');
    expect(JSON.stringify(all)).not.toContain(token);
    await catalog.apiTokens.revoke('ci');
    expect(await catalog.apiTokens.authenticate(token)).toBeUndefined();
    await expectCode(catalog.apiTokens.create({ name: 'x', role: 'root' as never }), 'UserErrorInvalidInput', 'role');

    await catalog.auditLog.append({ actor: 'token:ci', action: 'vault.update', resourceType: 'vault', resourceId: vault.id, outcome: 'succeeded', details: { note: 'password=Hush1234' } });
    await catalog.auditLog.append({ actor: 'token:ci', action: 'vault.delete', resourceType: 'vault', resourceId: vault.id, outcome: 'denied' });
    const audit = await catalog.auditLog.list({ limit: 10 });
    expect(audit.map((a) => a.action)).toEqual(['vault.delete', 'vault.update']);
    expect(JSON.stringify(audit)).not.toContain('Hush1234');
  });

  it('maps errors to the documented classes', async () => {
    await expect(catalog.vaults.get('missing')).rejects.toBeInstanceOf(UserErrorNotFound);
    await expect(catalog.vaults.create({ name: 'prod', storageUrl: 'file:///y', keyReference: 'env:X' })).rejects.toBeInstanceOf(UserErrorConflict);
    await expect(catalog.vaults.create({ name: '', storageUrl: 'file:///y', keyReference: 'env:X' })).rejects.toBeInstanceOf(UserErrorInvalidInput);
    expect(UserErrorVaultLocked.name).toBe('UserErrorVaultLocked');
    expect(TransientErrorJobAttemptSuperseded.name).toBe('TransientErrorJobAttemptSuperseded');
  });
});
