/** Database backup: pg_dump -Fc -Z0 of one database streamed into the vault as one recovery point (the archive
 *  and its archive index), committed only when pg_dump exited 0 and every chunk is durable. A dump that fails,
 *  is cancelled or is cut leaves no manifest, only garbage for prune. It never writes a temp file. */
import { InternalErrorUnexpected } from '../lib/index.ts';
import { pickClient, type PgClientSet, type PgConnectionConfig } from '../postgres/index.ts';
import type { ManifestInfo, Vault } from '../vault/index.ts';
import { dumpIntoVault, entryNames, type DumpProgress } from './dump-into-vault.ts';
import { serverInfo } from './server-info.ts';

export interface BackupOptions {
  database: string;
  clients: PgClientSet;
  signal?: AbortSignal;
  onProgress?: (p: DumpProgress) => void;
  /** Extra manifest metadata (instance id, tags …), stored beside pgvault's own. */
  meta?: Record<string, unknown>;
}

export interface BackupResult {
  manifest: ManifestInfo;
  database: string;
  archiveEntry: string;
  /** SHA-256 of the archive exactly as pg_dump wrote it. */
  sha256: string;
  bytesDumped: number;
  bytesNew: number;
  bytesStored: number;
  serverVersion: string;
  pgDumpVersion: string;
  durationMs: number;
  /** pg_dump's stderr, redacted. */
  log: string[];
}

/** Manifest metadata of a database recovery point (kind "database") or a whole-server one (kind "server"). */
export interface PointMeta {
  pgvault: 'recovery-point.v1';
  kind: 'database' | 'server';
  databases: string[];
  serverVersion: string;
  pgDumpVersion: string;
  host: string;
  port: number;
  [key: string]: unknown;
}

export async function runBackup(vault: Vault, cfg: PgConnectionConfig, opts: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const server = await serverInfo({ ...cfg, database: opts.database });
  const client = pickClient(opts.clients, 'pg_dump', server.major);
  const meta: PointMeta = {
    ...opts.meta,
    pgvault: 'recovery-point.v1',
    kind: 'database',
    databases: [opts.database],
    serverVersion: server.version,
    pgDumpVersion: client.version,
    host: cfg.host,
    port: cfg.port,
  };
  const writer = vault.beginManifest(meta);
  try {
    const dumped = await dumpIntoVault(writer, cfg, opts.database, client, { signal: opts.signal, onProgress: opts.onProgress, encoding: server.encoding });
    if (opts.signal?.aborted) throw opts.signal.reason;
    const manifest = await writer.commit();
    const archive = manifest.entries.find((e) => e.name === entryNames.archive(opts.database));
    if (!archive) throw new InternalErrorUnexpected('the committed manifest lacks the archive entry');
    return {
      manifest,
      database: opts.database,
      archiveEntry: archive.name,
      sha256: archive.sha256,
      bytesDumped: archive.sizeBytes,
      bytesNew: manifest.newBytes,
      bytesStored: manifest.storedBytes,
      serverVersion: server.version,
      pgDumpVersion: client.version,
      durationMs: Date.now() - started,
      log: dumped.log,
    };
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}
