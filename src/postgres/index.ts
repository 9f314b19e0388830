/** The PostgreSQL module: connection configs, client discovery, pre-flight checks and grant scripts, and the
 *  pg_dump / pg_dumpall / pg_restore runners with their errors mapped to coded ones. The only module that
 *  spawns PostgreSQL client tools; it imports lib only. */
export type { PgConnectionConfig, SslMode } from './pg-connection-config.ts';
export { parsePgUrl, toConninfo, quoteConninfoValue, withDatabase, describeTarget, checkOptions, sslModes } from './pg-connection-config.ts';
export type { PgClient, PgClientSet, PgToolName, DiscoverClientsOptions } from './discover-clients.ts';
export { discoverClients, pickClient, parseToolVersion, clientSearchDirs, pgToolNames } from './discover-clients.ts';
export { connect, withConnection, mapClientError, tlsOptionsFor } from './connect.ts';
export type { DatabaseInfo, ListDatabasesOptions } from './list-databases.ts';
export { listDatabases, azureDefaultExcludedOwners } from './list-databases.ts';
export type { MissingPrivilege, GrantScriptOptions } from './grant-script.ts';
export { grantScript, grantsForMissing, describeMissing, quoteIdent, quoteLiteral, psqlConnect } from './grant-script.ts';
export type { PreflightOptions, PreflightReport } from './preflight.ts';
export { preflight, fullGrantScript } from './preflight.ts';
export type { PgToolProcess, PgToolResult, PgToolProgress } from './pg-tool-process.ts';
export type { SpawnPgDumpOptions, SpawnPgDumpGlobalsOptions } from './spawn-pg-dump.ts';
export { spawnPgDump, spawnPgDumpGlobals } from './spawn-pg-dump.ts';
export type { SpawnPgRestoreOptions, PgRestoreSection } from './spawn-pg-restore.ts';
export { RestoreSessionPool, RestoreSqlSession, restoreSettings, sessionEntryDescs, sessionFits } from './restore-sql-session.ts';
export { spawnPgRestore, missingRoles, onlyMissingRoleErrors, onlyRoleErrors, restoreRoleIssues } from './spawn-pg-restore.ts';
export type { PgActor, PgFailureContext } from './map-pg-failure.ts';
export { mapPgFailureText, mapPgToolExit } from './map-pg-failure.ts';
export {
  UserErrorPgDumpTooOld,
  UserErrorPgClientNotFound,
  UserErrorMissingDBPermissions,
  UserErrorAuthenticationFailed,
  UserErrorDatabaseNotFound,
  UserErrorTargetOutOfDisk,
  UserErrorLockTimeout,
  UserErrorSslUnavailable,
  UserErrorSslVerificationFailed,
  UserErrorPgToolCancelled,
  UserErrorPgToolFailed,
  TransientErrorConnectionLost,
  TransientErrorServerUnavailable,
  installHint,
} from './pg-errors.ts';
export * from './archive/index.ts';
