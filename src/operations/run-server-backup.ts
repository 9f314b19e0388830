/** Whole-server backup: the globals (roles without passwords, memberships, settings, tablespaces) plus every
 *  database except templates and the exclusions, dumped in parallel with a bound, committed as ONE recovery
 *  point only when every dump succeeded. A failure of any part leaves no manifest. No temp file anywhere.
 *  A database dropped before its pg_dump wrote a byte (since the listing, or WITH (FORCE) while pg_dump waited
 *  for a lock) is left out and named in the point; one dropped WITH (FORCE) after pg_dump's first byte fails the
 *  run. (pg_dump writes nothing before it has read the whole schema; a small database comes out in one piece.) */
import { pickClient, spawnPgDumpGlobals, type PgClientSet, type PgConnectionConfig } from '../postgres/index.ts';
import type { ManifestInfo, Vault } from '../vault/index.ts';
import { dumpIntoVault, entryNames, type DumpedDatabase, type DumpProgress } from './dump-into-vault.ts';
import type { PointMeta } from './run-backup.ts';
import { databasesToBackUp, serverInfo, type DatabaseExclusions } from './server-info.ts';

export interface ServerBackupOptions {
  clients: PgClientSet;
  exclude?: DatabaseExclusions;
  /** Databases dumped at the same time (default 2). */
  parallel?: number;
  signal?: AbortSignal;
  onProgress?: (p: DumpProgress) => void;
  meta?: Record<string, unknown>;
}

export interface ServerBackupResult {
  manifest: ManifestInfo;
  databases: { name: string; archiveEntry: string; sha256: string; sizeBytes: number }[];
  /** Databases of the server left out, with why (templates, invalid, no connections, exclusions). */
  skipped: { name: string; why: string }[];
  globalsEntry: string;
  serverVersion: string;
  pgDumpVersion: string;
  durationMs: number;
  log: string[];
}

export async function runServerBackup(vault: Vault, cfg: PgConnectionConfig, opts: ServerBackupOptions): Promise<ServerBackupResult> {
  const started = Date.now();
  const server = await serverInfo(cfg);
  const dumpClient = pickClient(opts.clients, 'pg_dump', server.major);
  const dumpallClient = pickClient(opts.clients, 'pg_dumpall', server.major);
  const { included: databases, skipped, encodings } = await databasesToBackUp(cfg, opts.exclude);
  const meta: PointMeta = {
    ...opts.meta,
    pgvault: 'recovery-point.v1',
    kind: 'server',
    databases,
    ...(skipped.length > 0 ? { skippedDatabases: skipped } : {}),
    serverVersion: server.version,
    pgDumpVersion: dumpClient.version,
    host: cfg.host,
    port: cfg.port,
  };
  const writer = vault.beginManifest(meta);
  // One failure stops the other dumps at once instead of letting them run to the end.
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const log: string[] = skipped.map((d) => `pgvault: database "${d.name}" left out: ${d.why}`);
  try {
    const globals = spawnPgDumpGlobals(cfg, { client: dumpallClient, signal });
    const globalsEntry = writer.addEntry(entryNames.globals, globals.stdout, { signal });
    globalsEntry.catch(() => globals.kill());
    const [g, gd] = await Promise.allSettled([globalsEntry, globals.done]);
    if (gd.status === 'rejected') throw gd.reason;
    if (g.status === 'rejected') throw g.reason;
    log.push(...globals.log);

    const dumped: DumpedDatabase[] = [];
    let next = 0;
    let failure: { err: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (next < databases.length && !failure) {
        const db = databases[next++]!;
        try {
          // A database dropped since the listing (a CI scratch database) is left out, not a reason to lose the
          // point: its pg_dump fails before writing anything, and the database is gone by then.
          const d = await dumpIntoVault(writer, cfg, db, dumpClient, { signal, onProgress: opts.onProgress, encoding: encodings.get(db), leaveOutIfGone: true });
          if ('gone' in d) {
            skipped.push({ name: db, why: 'dropped while the backup ran' });
            log.push(`pgvault: database "${db}" left out: dropped while the backup ran`, ...d.log.map((l) => `[${db}] ${l}`));
            continue;
          }
          dumped.push(d);
        } catch (err) {
          failure ??= { err };
          stop.abort(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel ?? 2, databases.length)) }, worker));
    if (failure) throw failure.err;
    if (opts.signal?.aborted) throw opts.signal.reason;
    const included = databases.filter((d) => dumped.some((x) => x.database === d));
    const manifest = await writer.commit({ meta: { ...meta, databases: included, ...(skipped.length > 0 ? { skippedDatabases: skipped } : {}) } });
    for (const d of dumped) log.push(...d.log.map((l) => `[${d.database}] ${l}`));
    return {
      manifest,
      databases: included.map((name) => {
        const e = manifest.entries.find((x) => x.name === entryNames.archive(name))!;
        return { name, archiveEntry: e.name, sha256: e.sha256, sizeBytes: e.sizeBytes };
      }),
      skipped,
      globalsEntry: entryNames.globals,
      serverVersion: server.version,
      pgDumpVersion: dumpClient.version,
      durationMs: Date.now() - started,
      log,
    };
  } catch (err) {
    stop.abort(err);
    await writer.abort().catch(() => undefined);
    throw err;
  }
}
