/** One pg_dump streamed into a manifest writer: pg_dump -Fc -Z0 → archive reader (records the TOC end and every
 *  data block's range as bytes pass) → vault entry; then the archive index as a second, small entry.
 *  No temp file anywhere. It never commits: the caller commits only after every dump of the point succeeded. */
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { PgConnectionConfig, PgClient, DataBlock, ArchiveHeader } from '../postgres/index.ts';
import { createArchiveTap, spawnPgDump, tocEncoding, UserErrorDatabaseNotFound, withConnection } from '../postgres/index.ts';
import type { EntryInfo, ManifestWriter } from '../vault/index.ts';
import { buildArchiveIndex, type ArchiveIndexRecord } from './archive-index.ts';

export interface DumpProgress {
  database: string;
  bytesDumped: number;
  /** "schema.table" of the data block passing now, when known. */
  currentTable?: string;
}

export interface DumpedDatabase {
  database: string;
  archive: EntryInfo;
  index: ArchiveIndexRecord;
  indexEntry: EntryInfo;
  /** pg_dump's stderr, redacted. */
  log: string[];
}

/** Entry names inside a recovery point. Database names may hold any character but NUL: they are percent-encoded. */
export const entryNames = {
  archive: (database: string): string => `databases/${encodeURIComponent(database)}.dump`,
  index: (database: string): string => `databases/${encodeURIComponent(database)}.index.json`,
  globals: 'globals.sql',
};

/** The database whose archive entry `name` is (`databases/<percent-encoded>.dump`), or undefined for other entries. */
export function databaseOfEntry(name: string): string | undefined {
  const m = /^databases\/(.+)\.dump$/.exec(name);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export interface DumpOptions {
  signal?: AbortSignal;
  onProgress?: (p: DumpProgress) => void;
  /** The database's encoding (pg_dump's log lines are decoded from it). */
  encoding?: string;
  /** A database that is gone when pg_dump fails before its first byte (dropped since it was listed) resolves to a
   *  GoneDatabase instead of failing: nothing of it was added to the writer. */
  leaveOutIfGone?: boolean;
}

/** A database left out because it was dropped before its pg_dump wrote a byte. */
export interface GoneDatabase {
  database: string;
  gone: true;
  /** pg_dump's stderr, redacted: its failure to connect or its terminated session. */
  log: string[];
}

/** Whether `database` exists now, asked by connecting to it: a connection waits for a DROP DATABASE under way (it
 *  holds the database's lock until it commits), so a database being dropped WITH (FORCE) is seen as gone. */
async function databaseExists(cfg: PgConnectionConfig, database: string): Promise<boolean> {
  try {
    await withConnection({ ...cfg, database }, async () => undefined);
    return true;
  } catch (err) {
    if (err instanceof UserErrorDatabaseNotFound) return false;
    throw err;
  }
}

export async function dumpIntoVault(writer: ManifestWriter, cfg: PgConnectionConfig, database: string, client: PgClient, opts: DumpOptions & { leaveOutIfGone: true }): Promise<DumpedDatabase | GoneDatabase>;
export async function dumpIntoVault(writer: ManifestWriter, cfg: PgConnectionConfig, database: string, client: PgClient, opts?: DumpOptions): Promise<DumpedDatabase>;
export async function dumpIntoVault(writer: ManifestWriter, cfg: PgConnectionConfig, database: string, client: PgClient, opts: DumpOptions = {}): Promise<DumpedDatabase | GoneDatabase> {
  const blocks: DataBlock[] = [];
  let header: ArchiveHeader | undefined;
  let tocEntries = 0;
  const tableOf = new Map<number, string>();
  let currentTable: string | undefined;
  const tap = createArchiveTap({
    onHeader: (h) => (header = h),
    onToc: (toc) => {
      // What pg_dump really writes in: its client_encoding, recorded in the ENCODING entry.
      dump.setStderrEncoding(tocEncoding(toc));
      tocEntries = toc.length;
      for (const e of toc) if (e.hadDumper) tableOf.set(e.dumpId, e.namespace ? `${e.namespace}.${e.tag ?? ''}` : (e.tag ?? ''));
    },
    onBlockStart: (id) => {
      currentTable = tableOf.get(id);
    },
    onBlockEnd: (b) => blocks.push(b),
  });
  const progress = opts.onProgress;
  const dump = spawnPgDump(cfg, {
    database,
    client,
    ...(opts.encoding ? { encoding: opts.encoding } : {}),
    holdLogUntilToc: true,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(progress ? { onProgress: (p) => progress({ database, bytesDumped: p.bytes, ...((p.currentTable ?? currentTable) ? { currentTable: p.currentTable ?? currentTable } : {}) }) } : {}),
  });
  let stdoutEnded = false;
  dump.stdout.on('end', () => (stdoutEnded = true));
  dump.stdout.on('error', (err) => tap.destroy(err));
  dump.stdout.pipe(tap);
  // The entry begins with pg_dump's first byte: a pg_dump that fails before it (no connection, a lock it never
  // got) has added nothing to the writer, so the point can still be committed without this database.
  if (!(await firstOutput(tap, dump.done))) {
    // The archive reader refused pg_dump's first bytes while pg_dump still writes: stopped, or it would block on the
    // full pipe and never exit. (Output that merely ended early is pg_dump's own failure to report.)
    const refused = tap.errored !== null && !stdoutEnded;
    if (refused) dump.kill();
    const failure = await dump.done.then(
      () => undefined,
      (err: unknown) => err,
    );
    if (refused) throw tap.errored;
    if (failure !== undefined) {
      tap.destroy();
      const gone = opts.leaveOutIfGone && !opts.signal?.aborted && !(await databaseExists(cfg, database).catch(() => true));
      if (gone) return { database, gone: true, log: dump.log };
      throw failure;
    }
    if (tap.errored) throw tap.errored;
  }
  const entryP = writer.addEntry(entryNames.archive(database), tap, { signal: opts.signal });
  // A writer that stops reading must not leave pg_dump blocked on a full pipe; once pg_dump's output has ended
  // it exits by itself, and its own status says why (a kill would hide that).
  entryP.catch(() => {
    if (!stdoutEnded) dump.kill();
  });
  const [entry, done] = await Promise.allSettled([entryP, dump.done]);
  if (done.status === 'rejected') {
    tap.destroy();
    throw done.reason;
  }
  if (entry.status === 'rejected') {
    dump.kill();
    throw entry.reason;
  }
  const index = buildArchiveIndex(header!, tocEntries, tap.reader.tocEndOffset, blocks, tap.reader.offset);
  const indexEntry = await writer.addEntry(entryNames.index(database), Readable.from([Buffer.from(JSON.stringify(index))]), { signal: opts.signal });
  progress?.({ database, bytesDumped: tap.reader.offset });
  return { database, archive: entry.value, index, indexEntry, log: dump.log };
}

/** Resolves true once `out` has bytes to read, false when the tool exited first (bytes may still follow a
 *  successful exit: the entry then reads them). */
async function firstOutput(out: Readable, exited: Promise<unknown>): Promise<boolean> {
  if (out.readableLength > 0) return true;
  const stop = new AbortController();
  try {
    return await Promise.race([
      // 'readable' also comes at the end of a stream that had nothing in it.
      once(out, 'readable', { signal: stop.signal }).then(
        () => out.readableLength > 0,
        () => false,
      ),
      exited.then(
        () => false,
        () => false,
      ),
    ]);
  } finally {
    stop.abort();
  }
}
