/** The catalog: the service's own database, an index of vaults, policies, instances, recovery points, jobs,
 *  secrets (sealed), tokens and the audit log. One interface over two drivers — embedded PGlite in
 *  <dataDir>/catalog, held by an exclusive lock file, or any PostgreSQL by URL — with the same migrations and
 *  the same queries. Never stores a credential in clear; never decides policy (jobs and operations do). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { fromPglite, type ConstructorOptions } from 'pg-boss';
import { registerSecret, systemClock, UserErrorInvalidInput, type Clock } from '../lib/index.ts';
import { acquireCatalogLock, type CatalogLock } from './catalog-lock.ts';
import { migrate } from './migrate.ts';
import { apiTokenQueries, type ApiTokenQueries } from './queries/api-tokens.ts';
import { auditLogQueries, type AuditLogQueries } from './queries/audit-log.ts';
import { backupInstanceQueries, type BackupInstanceQueries } from './queries/backup-instances.ts';
import { jobQueries, type JobQueries } from './queries/jobs.ts';
import { policyQueries, type PolicyQueries } from './queries/policies.ts';
import type { QueryContext } from './queries/query-context.ts';
import { recoveryPointQueries, type RecoveryPointQueries } from './queries/recovery-points.ts';
import { scheduleOccurrenceQueries, type ScheduleOccurrenceQueries } from './queries/schedule-occurrences.ts';
import { secretRowQueries, type SecretRowQueries } from './queries/secrets.ts';
import { vaultQueries, type VaultQueries } from './queries/vaults.ts';
import { PgliteExecutor, PgPoolExecutor, translateDbError, type SqlExecutor } from './sql-executor.ts';

/** Every query group, bound to one executor (the pool, or one transaction). */
export interface CatalogQueries {
  readonly vaults: VaultQueries;
  readonly policies: PolicyQueries;
  readonly backupInstances: BackupInstanceQueries;
  readonly recoveryPoints: RecoveryPointQueries;
  readonly jobs: JobQueries;
  readonly scheduleOccurrences: ScheduleOccurrenceQueries;
  readonly secrets: SecretRowQueries;
  readonly apiTokens: ApiTokenQueries;
  readonly auditLog: AuditLogQueries;
}

/** Where the catalog lives. */
export type CatalogLocation =
  | { kind: 'embedded'; dataDir: string }
  | { kind: 'postgres'; url: string; poolMax?: number };

export interface Catalog extends CatalogQueries {
  readonly driver: 'pglite' | 'postgres';
  /** Raw SQL access for the job queue and tests; catalog tables live in schema "pgvault". */
  readonly executor: SqlExecutor;
  /** The migration version the schema is at after opening. */
  readonly schemaVersion: number;
  /** Runs fn with every query group bound to one transaction: all of its writes commit together or none.
   *  Inside fn use only `q` (never the catalog itself): PGlite is one session, and a query outside the
   *  transaction would wait for it to end. */
  transaction<T>(fn: (q: CatalogQueries) => Promise<T>): Promise<T>;
  /** pg-boss constructor options for the same database: fromPglite on the embedded catalog (same session), a
   *  connection string for PostgreSQL. pg-boss keeps its own schema ("pgboss"). */
  pgBossOptions(): ConstructorOptions;
  /** Closes the driver and releases the embedded lock. Idempotent. */
  close(): Promise<void>;
}

export interface OpenCatalogOptions {
  clock?: Clock;
}

export function bindQueries(exec: SqlExecutor, clock: Clock): CatalogQueries {
  const ctx: QueryContext = { exec, clock };
  const jobs = jobQueries(ctx);
  return {
    vaults: vaultQueries(ctx),
    policies: policyQueries(ctx),
    backupInstances: backupInstanceQueries(ctx),
    recoveryPoints: recoveryPointQueries(ctx, async (tx, fence) => {
      await jobQueries({ exec: tx, clock }).assertAttempt(fence.jobId, fence.attemptId);
    }),
    jobs,
    scheduleOccurrences: scheduleOccurrenceQueries(ctx),
    secrets: secretRowQueries(ctx),
    apiTokens: apiTokenQueries(ctx),
    auditLog: auditLogQueries(ctx),
  };
}

function makeCatalog(
  driver: Catalog['driver'], exec: SqlExecutor, clock: Clock, schemaVersion: number,
  pgBossOptions: () => ConstructorOptions, closeDriver: () => Promise<void>,
): Catalog {
  let closed: Promise<void> | undefined;
  return {
    driver,
    executor: exec,
    schemaVersion,
    ...bindQueries(exec, clock),
    transaction: (fn) => exec.transaction((tx) => fn(bindQueries(tx, clock))),
    pgBossOptions,
    close: () => (closed ??= closeDriver()),
  };
}

/** The directory of the embedded catalog and its lock file inside a pgvault data directory. */
export function embeddedCatalogPaths(dataDir: string): { dir: string; lockFile: string } {
  return { dir: join(dataDir, 'catalog'), lockFile: join(dataDir, 'catalog.lock') };
}

async function openEmbedded(dataDir: string, clock: Clock): Promise<Catalog> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const paths = embeddedCatalogPaths(dataDir);
  const lock: CatalogLock = acquireCatalogLock(paths.lockFile);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(paths.dir);
    const exec = new PgliteExecutor(db);
    const { current } = await migrate(exec);
    await exec.exec('SET search_path = pgvault, public');
    const pglite = db;
    return makeCatalog('pglite', exec, clock, current,
      () => ({ db: fromPglite(pglite), backend: 'pglite' }),
      async () => {
        try {
          await pglite.close();
        } finally {
          lock.release();
        }
      });
  } catch (err) {
    try { await db?.close(); } catch { /* already failing */ }
    lock.release();
    throw translateDbError(err);
  }
}

async function openPostgres(url: string, poolMax: number, clock: Clock): Promise<Catalog> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserErrorInvalidInput('catalog: the catalog URL is not a URL', { hint: 'For example postgresql://pgvault@db.example.com:5432/pgvault.', details: { field: 'catalog' } });
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new UserErrorInvalidInput('catalog: the catalog URL must be a postgresql:// URL', { hint: 'For example postgresql://pgvault@db.example.com:5432/pgvault.', details: { field: 'catalog' } });
  }
  if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
  const pool = new pg.Pool({ connectionString: url, max: poolMax, options: '-c search_path=pgvault,public', application_name: 'pgvault-catalog' });
  // An idle connection that dies (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const exec = new PgPoolExecutor(pool);
  try {
    const { current } = await migrate(exec);
    return makeCatalog('postgres', exec, clock, current,
      () => ({ connectionString: url, application_name: 'pgvault-queue' }),
      () => pool.end());
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw translateDbError(err);
  }
}

/** Opens (and migrates) the catalog. Embedded: throws UserErrorCatalogLocked if another process holds it. */
export function openCatalog(location: CatalogLocation, opts: OpenCatalogOptions = {}): Promise<Catalog> {
  const clock = opts.clock ?? systemClock;
  return location.kind === 'embedded'
    ? openEmbedded(location.dataDir, clock)
    : openPostgres(location.url, location.poolMax ?? 10, clock);
}
