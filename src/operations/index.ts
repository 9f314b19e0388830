/** Operations: the use cases that join PostgreSQL and the vault — database and whole-server backup, restore as
 *  database (serial, parallel without a spool file, or spooled), restore as files, item-level restore.
 *  The only entry point into src/operations. */
export { runBackup, type BackupOptions, type BackupResult, type PointMeta } from './run-backup.ts';
export { runServerBackup, type ServerBackupOptions, type ServerBackupResult } from './run-server-backup.ts';
export {
  runRestore,
  openPointArchive,
  UserErrorTargetDatabaseExists,
  UserErrorTargetMissingCreateDb,
  UserErrorTargetTablespaceMissing,
  IntegrityErrorArchiveHashMismatch,
  type RestoreOptions,
  type RestoreReport,
} from './run-restore.ts';
export { runRestoreFiles, dumpFileName, type RestoredFile, type RestoreFilesOptions } from './run-restore-files.ts';
export { applyGlobals, splitSqlScript, type GlobalsReport } from './apply-globals.ts';
export { planRestore, rolesInAcl, renderRestoreList, splitTableName, type RestorePlan, type RestoreSelection, type SkippedEntry, type DataItem, type PostItem } from './restore-plan.ts';
export { archiveIndexFormat, buildArchiveIndex, parseArchiveIndex, IntegrityErrorArchiveIndexInvalid, type ArchiveIndexRecord } from './archive-index.ts';
export { databaseOfEntry, entryNames, type DumpProgress } from './dump-into-vault.ts';
export { azureDefaultExclusions, databasesToBackUp, type DatabaseExclusions } from './server-info.ts';
