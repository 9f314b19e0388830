/** The composition root: opens the catalog, wires the service core into the API's ports, and runs the HTTP
 *  server. The only place that picks drivers. Test-only behaviour enters through AppOverrides, never as flags
 *  read deep inside modules. close() stops accepting requests, lets running work end, and closes the catalog. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { buildApiServer, type ApiDeps, type ApiServer } from '../api/index.ts';
import { openCatalog, type Catalog } from '../catalog/index.ts';
import { systemClock, UserErrorConflict, type Clock } from '../lib/index.ts';
import { loadMasterKey, SecretStore } from '../secrets/index.ts';
import type { StorageBackend } from '../storage/index.ts';
import type { ScryptParams } from '../vault/index.ts';
import type { AppConfig } from './app-config.ts';
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
  /** Environment for the master key (PGVAULT_MASTER_KEY) and credential references; default process.env. */
  env?: Record<string, string | undefined>;
}

export interface App {
  readonly config: AppConfig;
  readonly catalog: Catalog;
  readonly api: ApiServer;
  readonly vaults: VaultAccess;
  readonly secrets: SecretStore;
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
  try {
    secrets = new SecretStore(catalog.secrets, loadMasterKey({ dataDir: config.dataDir, ...(overrides.env ? { env: overrides.env } : {}) }));
    vaults = new VaultAccess({ catalog, secrets, clock, ...(overrides.wrapBackend ? { wrapBackend: overrides.wrapBackend } : {}), ...(overrides.kdf ? { kdf: overrides.kdf } : {}) });
    const deps: ApiDeps = {
      tokens: tokenStoreOf(catalog),
      audit: auditLogOf(catalog),
      clock,
      bodyLimitBytes: config.bodyLimitBytes,
      ...(logger ? { logger } : { logger: false }),
      vaults,
      secrets: secretServiceOf(secrets),
      policies: policyServiceOf(catalog),
      instances: instanceServiceOf(catalog),
      points: pointServiceOf(catalog),
    };
    api = await buildApiServer(deps);
  } catch (err) {
    await catalog.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    config,
    catalog,
    api,
    vaults,
    secrets,
    async start() {
      const url = await api.app.listen({ host: config.host, port: config.port });
      const adminTokenWritten = await ensureAdminToken(catalog, config.dataDir);
      writeFileSync(join(config.dataDir, serverUrlFile), `${url}\n`, { mode: 0o600 });
      if (logger) logger.info({ url, dataDir: config.dataDir, catalog: catalog.driver }, 'pgvault serving');
      return { url, adminTokenWritten };
    },
    close() {
      closing ??= (async () => {
        try {
          await api.app.close();
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
