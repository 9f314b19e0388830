/** The composition root: opens the catalog, wires the service core into the API's ports, and runs the HTTP
 *  server. The only place that picks drivers. Test-only behaviour enters through AppOverrides, never as flags
 *  read deep inside modules. close() stops accepting requests, lets running work end, and closes the catalog. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { buildApiServer, type ApiDeps, type ApiServer } from '../api/index.ts';
import { openCatalog, type Catalog } from '../catalog/index.ts';
import { asPgvaultError, systemClock, UserErrorConflict, type Clock } from '../lib/index.ts';
import { enqueueJob, Scheduler, startJobQueue, Worker, type JobQueue } from '../jobs/index.ts';
import { grantScript, preflight } from '../postgres/index.ts';
import { loadMasterKey, SecretStore } from '../secrets/index.ts';
import type { StorageBackend } from '../storage/index.ts';
import type { ScryptParams } from '../vault/index.ts';
import type { AppConfig } from './app-config.ts';
import { jobHandlers } from './job-handlers.ts';
import { jobServiceOf } from './job-service.ts';
import { connectionFor } from './pg-target.ts';
import { secretServiceOf } from './secret-service.ts';
import { VaultAccess } from './vault-service.ts';
import { auditLogOf, instanceServiceOf, pointServiceOf, policyServiceOf, tokenStoreOf } from './catalog-ports.ts';

export interface AppOverrides {
  clock?: Clock;
  /** Replaces the pino logger (false: no logging). */
  logger?: pino.Logger | false;
  /** Wraps every storage backend the app opens (fault injection in tests). */
  wrapBackend?: (backend: StorageBackend) => StorageBackend;
  /** Cheaper key derivation for vaults created in tests. */
  kdf?: ScryptParams;
  /** Queue lease and retry settings (tests use short leases). */
  leaseSeconds?: number;
  retryDelaySeconds?: number;
  /** Scheduler tick; default 30 s. */
  schedulerTickMs?: number;
  /** How often serve enqueues a retention job per vault; default 1 h, 0 never. */
  retentionEveryMs?: number;
  /** Worker idle poll; default 1 s. */
  workerPollMs?: number;
  /** Skips connecting to the datasource when an instance is created (only for tests of the API surface). */
  skipPreflight?: boolean;
  /** Environment for the master key (PGVAULT_MASTER_KEY) and credential references; default process.env. */
  env?: Record<string, string | undefined>;
}

export interface App {
  readonly config: AppConfig;
  readonly catalog: Catalog;
  readonly api: ApiServer;
  readonly vaults: VaultAccess;
  readonly secrets: SecretStore;
  readonly queue: JobQueue;
  /** Listens, writes <dataDir>/server.url and, on the first start of an empty catalog, <dataDir>/admin.token. */
  start(): Promise<{ url: string; adminTokenWritten: boolean }>;
  /** Graceful stop; idempotent. */
  close(): Promise<void>;
}

export const adminTokenFile = 'admin.token';
export const serverUrlFile = 'server.url';

export async function buildApp(config: AppConfig, overrides: AppOverrides = {}): Promise<App> {
  const clock = overrides.clock ?? systemClock;
  const logger =
    overrides.logger === undefined
      ? pino({ level: config.logLevel, redact: { paths: ['req.headers.authorization', '*.password', '*.token', '*.value'], censor: '[redacted]' } }, pino.destination(2))
      : overrides.logger;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const catalog = await openCatalog(config.catalogUrl ? { kind: 'postgres', url: config.catalogUrl } : { kind: 'embedded', dataDir: config.dataDir }, { clock });
  let api: ApiServer;
  let vaults: VaultAccess;
  let secrets: SecretStore;
  let queue: JobQueue | undefined;
  try {
    secrets = new SecretStore(catalog.secrets, loadMasterKey({ dataDir: config.dataDir, ...(overrides.env ? { env: overrides.env } : {}) }));
    vaults = new VaultAccess({ catalog, secrets, clock, ...(overrides.wrapBackend ? { wrapBackend: overrides.wrapBackend } : {}), ...(overrides.kdf ? { kdf: overrides.kdf } : {}) });
    queue = await startJobQueue({
      connection: { kind: 'catalog', catalog },
      ...(overrides.leaseSeconds ? { leaseSeconds: overrides.leaseSeconds } : {}),
      ...(overrides.retryDelaySeconds ? { retryDelaySeconds: overrides.retryDelaySeconds } : {}),
    });
    const store = secrets;
    // Configuring protection runs the pre-flight and refuses with its coded error (missing grants, old pg_dump …).
    const instances = instanceServiceOf(
      catalog,
      async (ds, credentialReference) => {
        const cfg = await connectionFor(ds.serverUrl, credentialReference, store, ds.kind === 'database' ? (ds.databaseName ?? undefined) : undefined);
        const r = await preflight(cfg, { wholeServer: ds.kind === 'server', excludeDatabases: ds.excludedDatabases ?? [], excludeOwners: ds.excludedOwners ?? [] });
        return {
          serverVersion: r.server.version,
          role: r.role.name,
          databases: r.databases.map((d) => ({ name: d.name, sizeBytes: d.sizeBytes ?? 0 })),
          pgDump: `${r.pgDump.version} (${r.pgDump.path})`,
          warnings: r.warnings,
        };
      },
      { checkOnCreate: !overrides.skipPreflight },
    );
    const deps: ApiDeps = {
      tokens: tokenStoreOf(catalog),
      audit: auditLogOf(catalog),
      clock,
      bodyLimitBytes: config.bodyLimitBytes,
      ...(logger ? { logger } : { logger: false }),
      vaults,
      secrets: secretServiceOf(secrets),
      policies: policyServiceOf(catalog),
      instances,
      jobs: jobServiceOf({ catalog, queue, secrets, clock }),
      points: pointServiceOf(catalog),
      grants: (role, opts) => grantScript(role, opts),
    };
    api = await buildApiServer(deps);
  } catch (err) {
    await queue?.stop().catch(() => undefined);
    await catalog.close();
    throw err;
  }
  const jobQueue = queue;
  const onError = (err: { code: string; message: string }) => {
    if (logger) logger.error({ code: err.code, message: err.message }, 'background error');
  };
  const handlers = jobHandlers({ catalog, vaults, secrets, clock });
  const workers = Array.from({ length: config.workers }, () => {
    const w = new Worker({ catalog, queue: jobQueue, clock, onError, ...(overrides.workerPollMs ? { pollIntervalMs: overrides.workerPollMs } : {}) });
    for (const [type, handler] of Object.entries(handlers)) w.registerHandler(type, handler);
    return w;
  });
  const scheduler = new Scheduler({ catalog, queue: jobQueue, clock, onError, ...(overrides.schedulerTickMs ? { tickIntervalMs: overrides.schedulerTickMs } : {}) });

  // Retention runs on its own: one job per vault and period (idempotent, so several serve processes are harmless).
  let retentionTimer: ReturnType<typeof setInterval> | undefined;
  const enqueueRetention = async () => {
    try {
      for (const v of await catalog.vaults.list()) {
        await enqueueJob(catalog, jobQueue, { type: 'retention', vaultId: v.id, params: { trigger: 'periodic' }, requestedBy: 'serve', exclusiveKey: `vault:${v.id}` }, clock);
      }
    } catch (err) {
      onError(asPgvaultError(err));
    }
  };
  let closing: Promise<void> | undefined;
  return {
    config,
    catalog,
    api,
    vaults,
    secrets,
    queue: jobQueue,
    async start() {
      const url = await api.app.listen({ host: config.host, port: config.port });
      for (const w of workers) w.start();
      scheduler.start();
      const every = overrides.retentionEveryMs ?? 3600_000;
      if (every > 0) retentionTimer = setInterval(() => void enqueueRetention(), every);
      const adminTokenWritten = await ensureAdminToken(catalog, config.dataDir);
      writeFileSync(join(config.dataDir, serverUrlFile), `${url}\n`, { mode: 0o600 });
      if (logger) logger.info({ url, dataDir: config.dataDir, catalog: catalog.driver }, 'pgvault serving');
      return { url, adminTokenWritten };
    },
    close() {
      closing ??= (async () => {
        // Stop accepting requests first, then stop scheduling; workers abort their running attempt, whose job
        // goes back to the queue (retried after the lease), then the queue and the catalog close.
        if (retentionTimer) clearInterval(retentionTimer);
        try {
          await api.app.close();
          await scheduler.stop();
          await Promise.all(workers.map((w) => w.stop()));
          await jobQueue.stop();
        } finally {
          await catalog.close();
        }
      })();
      return closing;
    },
  };
}

/** First start: an empty token table gets one admin token, written 0600 to <dataDir>/admin.token. Later starts
 *  never write one again, so deleting the file (or revoking the token) is final. */
async function ensureAdminToken(catalog: Catalog, dataDir: string): Promise<boolean> {
  if ((await catalog.apiTokens.list()).length > 0) return false;
  let token: string;
  try {
    ({ token } = await catalog.apiTokens.create({ name: 'admin', role: 'admin' }));
  } catch (err) {
    if (err instanceof UserErrorConflict) return false; // another serve on the same catalog won the race
    throw err;
  }
  const path = join(dataDir, adminTokenFile);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return true;
}
