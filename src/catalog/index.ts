/** The catalog module: the service's own database (embedded PGlite or PostgreSQL), its migrations and its
 *  typed queries. The only module that holds SQL for pgvault's own tables. Imports only lib. */
export * from './catalog.ts';
export * from './catalog-errors.ts';
export { acquireCatalogLock, type CatalogLock } from './catalog-lock.ts';
export { loadMigrations, migrate, type Migration, type MigrateResult } from './migrate.ts';
export { idPrefix, isId, newId, type IdKind } from './new-id.ts';
export { PgliteExecutor, PgPoolExecutor, translateDbError, type Row, type SqlExecutor, type SqlParam } from './sql-executor.ts';
export * from './validation.ts';
export * from './queries/api-tokens.ts';
export * from './queries/audit-log.ts';
export * from './queries/backup-instances.ts';
export * from './queries/jobs.ts';
export * from './queries/policies.ts';
export * from './queries/recovery-points.ts';
export * from './queries/schedule-occurrences.ts';
export * from './queries/secrets.ts';
export * from './queries/vaults.ts';
