/** The configuration of one `pgvault serve` process, parsed from its options and environment.
 *  Listens on loopback unless told otherwise; never holds a secret (a catalog URL's password is registered
 *  for redaction the moment it is read). */
import { isAbsolute, resolve } from 'node:path';
import { registerSecret, UserErrorInvalidInput } from '../lib/index.ts';
import { defaultDataDir, defaultPort } from '../cli/index.ts';

export interface AppConfig {
  /** Holds the embedded catalog, the lock, admin.token, server.url and master.key. */
  dataDir: string;
  /** A postgresql:// URL of a shared catalog; absent: embedded PGlite in dataDir. */
  catalogUrl?: string;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Workers in this process; 0 serves the API and schedules but runs no job. */
  workers: number;
  bodyLimitBytes: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export function parseListen(value: string | undefined): { host: string; port: number } {
  if (value === undefined) return { host: '127.0.0.1', port: defaultPort };
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+))?:?(\d{1,5})?$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!m || host === undefined || port > 65535) {
    throw new UserErrorInvalidInput(`--listen "${value}" is not host:port`, {
      hint: 'For example --listen 127.0.0.1:8432 (loopback only, the default) or --listen 0.0.0.0:8432 (every interface).',
      details: { field: 'listen' },
    });
  }
  return { host, port };
}

export function appConfigFrom(opts: { dataDir?: string; catalog?: string; listen?: string; workers?: string; logLevel?: string }, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const dataDir = resolve(opts.dataDir ?? defaultDataDir(env));
  if (!isAbsolute(dataDir)) throw new UserErrorInvalidInput('the data directory must be an absolute path');
  const catalogUrl = opts.catalog ?? env.PGVAULT_CATALOG_URL;
  if (catalogUrl) {
    try {
      const pw = new URL(catalogUrl).password;
      if (pw) registerSecret(decodeURIComponent(pw));
    } catch {
      // openCatalog reports the malformed URL with its own code
    }
  }
  const workers = opts.workers === undefined ? 2 : Number(opts.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new UserErrorInvalidInput(`--workers "${opts.workers}" is not a number from 0 to 64`, { details: { field: 'workers' } });
  }
  const logLevel = (opts.logLevel ?? env.PGVAULT_LOG_LEVEL ?? 'info') as AppConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new UserErrorInvalidInput(`--log-level "${logLevel}" is not a level`, { hint: 'Use debug, info, warn, error or silent.' });
  }
  return { dataDir, ...(catalogUrl ? { catalogUrl } : {}), ...parseListen(opts.listen ?? env.PGVAULT_LISTEN), workers, bodyLimitBytes: 1024 * 1024, logLevel };
}
