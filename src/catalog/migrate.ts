/** Applies the numbered SQL files in ./migrations (NNN-name.sql) in order, each in its own transaction, and
 *  records them in pgvault.schema_migrations with a checksum. A transaction-scoped advisory lock makes two
 *  processes starting at once on one PostgreSQL apply each migration exactly once. Never edits or skips an
 *  applied migration; refuses a catalog that a newer pgvault migrated. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InternalErrorUnexpected } from '../lib/index.ts';
import { UserErrorCatalogSchemaTooNew } from './catalog-errors.ts';
import type { SqlExecutor } from './sql-executor.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Arbitrary but fixed key of the advisory lock guarding migrations ("pgvault" in ASCII, as an int8). */
const MIGRATION_LOCK_KEY = '28554769237393780';

export const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export function loadMigrations(dir: string = migrationsDir): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d{3})-([a-z0-9-]+)\.sql$/.exec(file);
    if (!m) continue;
    const sql = readFileSync(`${dir}/${file}`, 'utf8');
    out.push({ version: Number(m[1]), name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  out.forEach((mig, i) => {
    if (mig.version !== i + 1) throw new InternalErrorUnexpected(`migration numbering has a gap or duplicate at ${mig.version}-${mig.name}`);
  });
  return out;
}

export interface MigrateResult {
  applied: number[];
  current: number;
}

/** Brings the catalog schema to the newest known migration. Idempotent; safe to call concurrently. */
export async function migrate(exec: SqlExecutor, migrations: Migration[] = loadMigrations()): Promise<MigrateResult> {
  const applied: number[] = [];
  for (;;) {
    const step = await exec.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      await tx.exec(`CREATE SCHEMA IF NOT EXISTS pgvault;
        CREATE TABLE IF NOT EXISTS pgvault.schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const rows = await tx.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM pgvault.schema_migrations ORDER BY version');
      for (const row of rows) {
        const known = migrations[row.version - 1];
        if (!known) {
          throw new UserErrorCatalogSchemaTooNew(
            `the catalog is at schema version ${rows[rows.length - 1]!.version}, newer than this pgvault knows (${migrations.length})`,
            { hint: 'Run a pgvault release at least as new as the one that last opened this catalog.' });
        }
        if (known.checksum !== row.checksum) {
          throw new InternalErrorUnexpected(`applied migration ${String(row.version).padStart(3, '0')}-${row.name}.sql differs from the file shipped with this pgvault`);
        }
      }
      const next = migrations[rows.length];
      if (!next) return { done: true as const, current: rows.length };
      await tx.exec(`SET LOCAL search_path = pgvault;\n${next.sql}`);
      await tx.query('INSERT INTO pgvault.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [next.version, next.name, next.checksum]);
      return { done: false as const, current: next.version };
    });
    if (step.done) return { applied, current: step.current };
    applied.push(step.current);
  }
}
