/** Restore as database: one database of a recovery point into a new database on any target server (same or
 *  newer major), created by a role with CREATEDB. Serial restore streams the archive straight from the vault into
 *  pg_restore. Parallel restore keeps pg_restore -j's gain without a spool file: pre-data from the TOC alone, then
 *  N workers taking ready items biggest first (restore-schedule.ts): a table's data (its block read from the vault
 *  by range, loaded with COPY over a reused session: restore-sql-session.ts; or by a pg_restore run fed a partial
 *  archive, header + TOC + that block, for large objects and archives a session cannot take), and once it is in, its
 *  indexes and keys (as SQL over those sessions); the rest of post-data with -j from a tiny TOC-only file. Spool
 *  mode (the whole archive in a private temp file, then plain pg_restore -j) only when asked. Missing roles are
 *  reported with the ACL entries skipped; it never drops a database unless `replace` was asked. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { drained, IntegrityError, InternalErrorUnexpected, Stop, stopped, UserError, UserErrorInvalidInput, UserErrorNotFound, type PgvaultErrorOptions } from '../lib/index.ts';
import {
  ArchiveReader,
  copyDataMessages,
  type CopyDataEvent,
  reblockArchive,
  truncatingCopy,
  tocEncoding,
  truncateBeforeCopy,
  type ArchiveHeader,
  type ReblockOptions,
  pickClient,
  restoreSettings,
  RestoreSessionPool,
  RestoreSqlSession,
  sessionFits,
  type SpawnPgRestoreOptions,
  spawnPgRestore,
  withConnection,
  type PgClientSet,
  type PgConnectionConfig,
  type PgToolProcess,
  type TocEntry,
  UserErrorPgToolCancelled,
} from '../postgres/index.ts';
import type { Manifest, ManifestId, Vault } from '../vault/index.ts';
import { blocksOf, parseArchiveIndex, type ArchiveIndexRecord } from './archive-index.ts';
import { databaseOfEntry, entryNames } from './dump-into-vault.ts';
import { planRestore, renderRestoreList, type DataItem, type PostItem, type RestorePlan, type SkippedEntry } from './restore-plan.ts';
import { applyGlobals, type GlobalsReport } from './apply-globals.ts';
import { runRestoreItems } from './restore-schedule.ts';
import { serverInfo } from './server-info.ts';

/** The target database exists and replacing it was not asked. */
export class UserErrorTargetDatabaseExists extends UserError {
  override readonly httpStatus: number = 409;
  constructor(database: string, opts: PgvaultErrorOptions = {}) {
    super(`the target database "${database}" already exists`, {
      hint: 'Restore under a new database name, or ask for replacement (replace: true / --replace), which drops the existing database first.',
      details: { database },
      ...opts,
    });
  }
}

/** The restoring role may not create databases on the target. */
export class UserErrorTargetMissingCreateDb extends UserError {
  override readonly httpStatus: number = 403;
  constructor(role: string, opts: PgvaultErrorOptions = {}) {
    super(`role "${role}" may not create databases on the target server`, {
      hint: `ALTER ROLE "${role}" CREATEDB; (a superuser is not needed; pgvault restores as a role with CREATEDB)`,
      details: { role },
      ...opts,
    });
  }
}

/** The archive puts objects in tablespaces the target server does not have. */
export class UserErrorTargetTablespaceMissing extends UserError {
  override readonly httpStatus: number = 409;
  constructor(tablespaces: string[], opts: PgvaultErrorOptions = {}) {
    super(`the target server has no tablespace ${tablespaces.map((t) => `"${t}"`).join(', ')}, which the recovery point puts objects in`, {
      hint: `Create ${tablespaces.length > 1 ? 'them' : 'it'} on the target (CREATE TABLESPACE … LOCATION '/path'), or restore with noTablespaces (--no-tablespaces) to put every object in the new database's default tablespace.`,
      details: { tablespaces },
      ...opts,
    });
  }
}

/** The archive read back from the vault does not match what was recorded at backup time. */
export class IntegrityErrorArchiveHashMismatch extends IntegrityError {
  constructor(entry: string, opts: PgvaultErrorOptions = {}) {
    super(`the archive "${entry}" read from the vault does not match the SHA-256 recorded at backup time`, {
      hint: 'Run `check --read-data` on the vault; restore from another recovery point.',
      details: { entry },
      ...opts,
    });
  }
}

export interface RestoreOptions {
  /** Name of the database to create on the target. */
  newDatabase: string;
  /** Drop an existing database of that name first. */
  replace?: boolean;
  /** Parallel jobs; 1 (default) streams serially. */
  jobs?: number;
  /** Write the archive to a private temp file and run plain pg_restore -j on it. */
  spool?: boolean;
  /** From a whole-server point: create the roles the target lacks from its globals before restoring. */
  createRoles?: boolean;
  /** With createRoles, as a superuser: also give created roles SUPERUSER, REPLICATION, BYPASSRLS and membership in
   *  superuser or server-side roles (pg_execute_server_program …) as the point has them; otherwise withheld. */
  privilegedRoles?: boolean;
  /** Put every object in the new database's default tablespace (pg_restore --no-tablespaces) instead of the
   *  tablespaces named in the archive, which must then exist on the target. */
  noTablespaces?: boolean;
  schemas?: string[];
  tables?: string[];
  clients: PgClientSet;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'pre-data' | 'data' | 'post-data' | 'all'; bytes: number; currentTable?: string }) => void;
  /** Where private temp files go (lists, the TOC file, the spool); default os.tmpdir(). */
  tempDir?: string;
}

export interface RestoreReport {
  database: string;
  sourceDatabase: string;
  mode: 'serial' | 'parallel' | 'spool';
  jobs: number;
  /** Roles named by the archive (owners, grantees) that the target lacked. */
  missingRoles: string[];
  /** ACL entries left out, each with the roles that were missing. */
  skippedAcls: SkippedEntry[];
  ownersKept: boolean;
  globals?: GlobalsReport;
  restoredEntries: number;
  bytesRead: number;
  durationMs: number;
  log: string[];
}

interface PointArchive {
  manifest: Manifest;
  sourceDatabase: string;
  archiveEntry: string;
  sizeBytes: number;
  sha256: string;
  index: ArchiveIndexRecord;
}

/** Finds one database's archive in a recovery point; `database` may be omitted when the point holds one. */
export async function openPointArchive(vault: Vault, manifestId: ManifestId, database: string | undefined): Promise<PointArchive> {
  const manifest = await vault.readManifest(manifestId);
  const names = manifest.entries.map((e) => databaseOfEntry(e.name)).filter((d): d is string => d !== undefined);
  let source = database;
  if (source === undefined) {
    if (names.length !== 1) {
      throw new UserErrorInvalidInput(`recovery point "${manifestId}" holds ${names.length} databases; name the one to restore`, {
        hint: `Databases: ${names.map((n) => `"${n}"`).join(', ')}`,
        details: { field: 'database' },
      });
    }
    source = names[0]!;
  }
  const entry = manifest.entries.find((e) => e.name === entryNames.archive(source!));
  if (!entry) {
    throw new UserErrorNotFound(`recovery point "${manifestId}" holds no database "${source}"`, {
      hint: `Databases: ${names.map((n) => `"${n}"`).join(', ')}`,
      details: { database: source },
    });
  }
  const indexName = entryNames.index(source);
  const indexBytes = await readAll(vault.load(manifestId, indexName));
  const index = parseArchiveIndex(indexBytes, indexName, entry.sizeBytes);
  return { manifest, sourceDatabase: source, archiveEntry: entry.name, sizeBytes: entry.sizeBytes, sha256: entry.sha256, index };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The TOC of an archive, read from its first bytes only. */
export async function readToc(vault: Vault, manifestId: ManifestId, pa: PointArchive): Promise<{ bytes: Buffer; toc: TocEntry[]; header: ArchiveHeader }> {
  const bytes = await readAll(vault.load(manifestId, pa.archiveEntry, { offset: 0, length: pa.index.tocEndOffset }));
  const reader = new ArchiveReader();
  reader.write(bytes);
  reader.end();
  return { bytes, toc: [...reader.toc], header: reader.header! };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

type Connection = Parameters<Parameters<typeof withConnection>[1]>[0];

/** CREATE DATABASE with the archive's encoding and locale; without the locale when the target lacks it. */
async function createDatabase(c: Connection, name: string, toc: readonly TocEntry[]): Promise<void> {
  const encoding = tocEncoding(toc) ?? 'UTF8';
  const dbDefn = toc.find((e) => e.desc === 'DATABASE')?.defn ?? '';
  const locale = /\bLOCALE = '([^']+)'/.exec(dbDefn)?.[1];
  const collate = /\bLC_COLLATE = '([^']+)'/.exec(dbDefn)?.[1] ?? locale;
  const ctype = /\bLC_CTYPE = '([^']+)'/.exec(dbDefn)?.[1] ?? locale;
  const base = `CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(encoding)}`;
  if (collate && ctype) {
    try {
      await c.query(`${base} LC_COLLATE ${quoteLiteral(collate)} LC_CTYPE ${quoteLiteral(ctype)}`);
      return;
    } catch (err) {
      // 22023: invalid locale name / incompatible with the encoding on this target: fall back to its default.
      if ((err as { code?: string }).code !== '22023') throw err;
    }
  }
  await c.query(base);
}

export async function runRestore(
  vault: Vault,
  manifestId: ManifestId,
  database: string | undefined,
  target: PgConnectionConfig,
  opts: RestoreOptions,
): Promise<RestoreReport> {
  const started = Date.now();
  const jobs = Math.max(1, Math.floor(opts.jobs ?? 1));
  if (!opts.newDatabase) throw new UserErrorInvalidInput('the new database name is empty', { hint: 'Name the database to create on the target.', details: { field: 'newDatabase' } });
  // The archive's TOC (from the vault) and the target's facts (over a connection) are fetched side by side.
  const [{ pa, tocBytes, toc, header }, info] = await Promise.all([
    (async () => {
      const pa = await openPointArchive(vault, manifestId, database);
      const { bytes: tocBytes, toc, header } = await readToc(vault, manifestId, pa);
      return { pa, tocBytes, toc, header };
    })(),
    serverInfo(target),
  ]);
  if (!info.canCreateDb) throw new UserErrorTargetMissingCreateDb(info.role);
  const client = pickClient(opts.clients, 'pg_restore', info.major);

  let globalsScript: string | undefined;
  if (opts.createRoles) {
    const g = pa.manifest.entries.find((e) => e.name === entryNames.globals);
    if (!g) {
      throw new UserErrorInvalidInput(`recovery point "${manifestId}" is not a whole-server point: it has no globals to create roles from`, {
        hint: 'Create the roles on the target by hand, or restore without createRoles (objects are then owned by the restoring role).',
        details: { field: 'createRoles' },
      });
    }
    globalsScript = (await readAll(vault.load(manifestId, g.name))).toString('utf8');
  }

  // One connection (each costs a SCRAM exchange). Nothing on the target changes, roles included, before the checks
  // pass and the temp dir exists: an existing target, a selection naming what the point lacks, or a temp dir that
  // cannot be made, fails first.
  let globals: GlobalsReport | undefined;
  const { plan, dir } = await withConnection(target, async (c) => {
    const exists = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.newDatabase])).rowCount === 1;
    if (exists && !opts.replace) throw new UserErrorTargetDatabaseExists(opts.newDatabase);
    const selection = { schemas: opts.schemas, tables: opts.tables };
    const planFor = async (): Promise<RestorePlan> => {
      const targetRoles = new Set((await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
      return planRestore({ toc, blocks: blocksOf(pa.index), selection, targetRoles, targetIsSuperuser: info.isSuperuser });
    };
    // The checks first: the plan throws for a selection naming what the point lacks.
    let plan = await planFor();
    if (!opts.noTablespaces) {
      // pg_restore would fail each such object (SET default_tablespace); refuse before anything is created.
      const chosen = new Set(plan.selected);
      const named = new Set(toc.filter((e) => chosen.has(e.dumpId) && e.tablespace).map((e) => e.tablespace!));
      const there = new Set((await c.query<{ spcname: string }>('SELECT spcname FROM pg_catalog.pg_tablespace')).rows.map((r) => r.spcname));
      const missing = [...named].filter((t) => !there.has(t)).sort();
      if (missing.length > 0) throw new UserErrorTargetTablespaceMissing(missing);
    }
    const dir = await mkdtemp(join(opts.tempDir ?? tmpdir(), 'pgvault-restore-'));
    try {
      // Then the roles, and the plan again, knowing them (an ACL for a role just created is kept, not skipped).
      if (globalsScript !== undefined) {
        globals = await applyGlobals(target, globalsScript, { privileged: opts.privilegedRoles === true });
        plan = await planFor();
      }
      if (exists) await c.query(`DROP DATABASE ${quoteIdent(opts.newDatabase)}${info.major >= 13 ? ' WITH (FORCE)' : ''}`);
      await createDatabase(c, opts.newDatabase, toc);
      return { plan, dir };
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  });

  const log: string[] = [];
  let bytesRead = 0;
  const mode: RestoreReport['mode'] = opts.spool ? 'spool' : jobs > 1 ? 'parallel' : 'serial';
  try {
    // What pg_restore reads: the TOC with every created table's COPY preceded by a TRUNCATE in its transaction (no
    // WAL for the load on a wal_level = minimal target), then the archive's data as it is in the vault.
    const loadToc = truncateBeforeCopy(tocBytes, toc, new Set(plan.createdTableData)).bytes;
    // pg_restore gets the table data of an uncompressed archive in large chunks, not a CopyData message per row.
    const reblock = header.compression === 'none' ? { tocEndOffset: loadToc.length, intSize: header.intSize } : undefined;
    const listFile = join(dir, 'restore.list');
    await writeFile(listFile, renderRestoreList(plan.selected, toc), { mode: 0o600 });
    const encoding = tocEncoding(toc);
    const base = {
      database: opts.newDatabase,
      client,
      noOwner: !plan.keepOwners,
      noTablespaces: opts.noTablespaces === true,
      list: listFile,
      signal: opts.signal,
      ...(encoding ? { encoding } : {}),
    };
    const cfg = target;

    if (mode === 'serial') {
      const p = spawnPgRestore(cfg, { ...base, onProgress: (x) => opts.onProgress?.({ phase: 'all', bytes: x.bytes, currentTable: x.currentTable }) });
      // loadChunks checks every chunk against its keyed id (IntegrityErrorChunkHashMismatch).
      const data = vault.loadChunks(manifestId, pa.archiveEntry, { offset: tocBytes.length, length: pa.index.totalBytes - tocBytes.length });
      bytesRead += (await feed(p, [loadToc, data], { reblock, vault })) - loadToc.length + tocBytes.length;
      log.push(...p.log);
    } else if (mode === 'spool') {
      const spoolFile = join(dir, 'archive.dump');
      const sha = createHash('sha256');
      const src = vault.load(manifestId, pa.archiveEntry);
      src.on('data', (b: Buffer) => {
        sha.update(b);
        bytesRead += b.length;
      });
      await pipeline(src, createWriteStream(spoolFile, { mode: 0o600 }), { signal: opts.signal });
      if (sha.digest('hex') !== pa.sha256) throw new IntegrityErrorArchiveHashMismatch(pa.archiveEntry);
      const p = spawnPgRestore(cfg, { ...base, file: spoolFile, jobs });
      await p.done;
      log.push(...p.log);
    } else {
      bytesRead += await restoreParallel(vault, manifestId, pa, tocBytes, loadToc, toc, plan, { cfg, base, dir, jobs, log, reblock, targetMajor: info.major, onProgress: opts.onProgress });
    }
  } catch (err) {
    // The database was created by this restore and is incomplete: drop it, so that nobody mistakes it for a
    // restored one and a retry does not meet UserErrorTargetDatabaseExists.
    await withConnection(target, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(opts.newDatabase)}${info.major >= 13 ? ' WITH (FORCE)' : ''}`)).catch(() => undefined);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    database: opts.newDatabase,
    sourceDatabase: pa.sourceDatabase,
    mode,
    jobs,
    missingRoles: plan.missingRoles,
    skippedAcls: plan.skipped,
    ownersKept: plan.keepOwners,
    ...(globals ? { globals } : {}),
    restoredEntries: plan.selected.length,
    bytesRead,
    durationMs: Date.now() - started,
    log,
  };
}

/** Writes the sources one after another into the tool's stdin and waits for the tool; returns the source bytes fed.
 *  The table data of an uncompressed archive is re-blocked on the way (reblock.ts) when `reblock` says where it
 *  starts. Chunks lent by `vault` (loadChunks) go back to it once copied out or written, and the data blocks are
 *  written again once the pipe has taken them: the feed allocates no memory per chunk (why: SpareBuffers in
 *  vault-context.ts). */
async function feed(p: PgToolProcess, sources: (AsyncIterable<Buffer> | Buffer)[], opts: { reblock?: ReblockOptions; vault?: Vault } = {}): Promise<number> {
  let n = 0;
  async function* concat(): AsyncGenerator<Buffer> {
    for (const s of sources) {
      if (Buffer.isBuffer(s)) {
        n += s.length;
        yield s;
        continue;
      }
      for await (const b of s) {
        n += b.length;
        yield b;
      }
    }
  }
  const giveBack = (b: Buffer): void => opts.vault?.reuse(b);
  const blocks = new BlockPool();
  const items = opts.reblock ? reblockArchive(concat(), { ...opts.reblock, consumed: giveBack, block: blocks.block }) : concat();
  const written = (b: Buffer): void => {
    if (!blocks.written(b) && !opts.reblock) giveBack(b);
  };
  // A tool that stops (failed, or done without needing the rest) ends the feed at once, even while a vault read is
  // pending: what that read would bring (or the error it would raise) no longer matters.
  const toolStopped = new Stop();
  p.done.then(
    () => toolStopped.stop(),
    () => toolStopped.stop(),
  );
  const stdin = p.stdin;
  /** Whether the feed failed while the tool still ran: then its error is the cause of the tool's stop. */
  let failedFirst = false;
  const pump = async (): Promise<void> => {
    const it = items[Symbol.asyncIterator]();
    try {
      while (!toolStopped.stopped && !stdin.destroyed) {
        const r = await toolStopped.race(it.next());
        if (r === stopped) break;
        if (r.done) return void stdin.end();
        const b = r.value;
        if (!stdin.write(b, (err) => err || written(b))) await drained(stdin);
      }
    } catch (err) {
      failedFirst = !toolStopped.stopped;
      stdin.destroy(); // the tool must not wait for the rest: it is stopped
      throw err;
    } finally {
      it.return?.(undefined).catch(() => undefined);
    }
  };
  const [piped, done] = await Promise.allSettled([pump(), p.done]);
  // The feed's own failure (the vault could not give the data) is the cause when it came first; the tool was
  // stopped because of it.
  if (piped.status === 'rejected' && failedFirst) throw piped.reason;
  if (done.status === 'rejected') throw done.reason;
  return n;
}

/** The buffers of re-blocked table data (reblockArchive, copyDataMessages): a block written out comes back for the
 *  next one, so that a load allocates no memory per block. */
class BlockPool {
  readonly #spare: Buffer[] = [];
  readonly #ours = new WeakSet<ArrayBufferLike>();

  /** A buffer of exactly `bytes`, one given back if it fits. */
  readonly block = (bytes: number): Buffer => {
    const spare = this.#spare.pop();
    const b = spare?.length === bytes ? spare : Buffer.allocUnsafeSlow(bytes);
    this.#ours.add(b.buffer);
    return b;
  };

  /** `b` (a block, or a view of one) was written: its buffer may be reused. False for a buffer not from here. */
  readonly written = (b: Buffer): boolean => {
    if (!this.#ours.has(b.buffer)) return false;
    if (this.#spare.length < 4) this.#spare.push(Buffer.from(b.buffer, 0, b.buffer.byteLength));
    return true;
  };
}

/** How often a load over a session reports its progress (as a pg_restore run does: pg-tool-process.ts). */
const progressEveryBytes = 4 * 1024 * 1024;

/** The session settings the restore's pg_restore sends before any entry (restoreSettings): run with the same
 *  options, it prints them for an empty list. */
async function sessionSettings(tocBytes: Buffer, ctx: { base: SpawnPgRestoreOptions; cfg: PgConnectionConfig; dir: string }): Promise<string> {
  const list = join(ctx.dir, 'none.list');
  await writeFile(list, '', { mode: 0o600 });
  const p = spawnPgRestore(ctx.cfg, { ...ctx.base, mode: 'sql', list });
  const [script] = await Promise.all([readAll(p.stdout), feed(p, [tocBytes])]);
  return restoreSettings(script.toString('utf8'));
}

async function restoreParallel(
  vault: Vault,
  manifestId: ManifestId,
  pa: PointArchive,
  tocBytes: Buffer,
  /** tocBytes as the data workers read them (truncateBeforeCopy). */
  loadToc: Buffer,
  toc: readonly TocEntry[],
  plan: RestorePlan,
  ctx: {
    cfg: PgConnectionConfig;
    base: SpawnPgRestoreOptions & { database: string };
    dir: string;
    jobs: number;
    log: string[];
    reblock: ReblockOptions | undefined;
    targetMajor: number;
    onProgress?: RestoreOptions['onProgress'];
  },
): Promise<number> {
  let bytes = 0;
  // 1. pre-data: definitions, from the TOC alone (pg_restore runs this section serially even with -j), without the
  //    ACL pass (phase 3). Beside it, the same pg_restore prints the session settings it sends before any entry,
  //    for the post items' sessions. Each phase's -L list names exactly its entries: no --section, which would
  //    count an ACL or a comment by the entry before it (effectiveSections).
  const { preData, dataItems, postItems, final } = plan.parallel;
  const preList = join(ctx.dir, 'pre-data.list');
  await writeFile(preList, renderRestoreList(preData, toc), { mode: 0o600 });
  const pre = spawnPgRestore(ctx.cfg, { ...ctx.base, list: preList });
  const byId = new Map(toc.map((e) => [e.dumpId, e]));
  // A data item of table data and sequence values loads over a session too (COPY with the archive's rows, sent as
  // they are: copyDataMessages) when the archive is uncompressed, as pgvault writes it; large objects, INSERT-style
  // data and compressed archives keep a pg_restore run of their own.
  const sessionsFit = sessionFits(toc);
  const withBlock = new Set(blocksOf(pa.index).map((b) => b.dumpId));
  const loadsOverSession = (item: DataItem): boolean =>
    sessionsFit &&
    ctx.reblock !== undefined &&
    item.dumpIds.every((id) => {
      const e = byId.get(id)!;
      if (e.desc === 'SEQUENCE SET') return !withBlock.has(id);
      return e.desc === 'TABLE DATA' && withBlock.has(id) && e.copyStmt?.endsWith(' FROM stdin;\n') === true;
    });
  const useSessions = sessionsFit && (postItems.length > 0 || dataItems.some(loadsOverSession));
  // Both settle before either failure counts: nothing may still run on the target when the restore drops it.
  const [preFed, printed] = await Promise.allSettled([feed(pre, [tocBytes]), useSessions ? sessionSettings(tocBytes, ctx) : '']);
  if (preFed.status === 'rejected') throw preFed.reason;
  if (printed.status === 'rejected') throw printed.reason;
  bytes += preFed.value;
  // The jobs already spread the restore over the target's cores, entry by entry. An index build's own parallel
  // workers (max_parallel_maintenance_workers, 11+) would compete with the other jobs for those cores and add a merge
  // of their sorts: the sessions build without them (lab, -j2 on 2 cores: 7 % less server CPU, 0.92× the wall time).
  const settings = `${printed.value}${ctx.targetMajor >= 11 ? '\nSET max_parallel_maintenance_workers = 0;' : ''}`;
  ctx.log.push(...pre.log);

  // 2. data and the indexes and keys of each table: `jobs` workers take the next ready item, biggest first. A data
  //    item's blocks are fetched by range and loaded with COPY over a session (loadOverSession), or, when a session
  //    cannot take them, by one pg_restore reading a partial archive (header + TOC + those blocks); once a table is
  //    in, its post items (its indexes and keys) become ready. As in pg_restore -j, a worker that has no data left
  //    builds indexes instead of idling while another worker still loads.
  let runs = 0;
  // Data items and post items run over sessions reused from one item to the next (restore-sql-session.ts), within
  // jobs + 1 connections together with the data items left to pg_restore.
  const sessions = new RestoreSessionPool(() => RestoreSqlSession.open({ ...ctx.cfg, database: ctx.base.database }, settings, (l) => ctx.log.push(l)), ctx.jobs + 1);
  const created = new Set(plan.createdTableData);
  // The workers share one read-ahead window's memory.
  async function* ranges(item: DataItem): AsyncGenerator<Buffer> {
    for (const r of item.ranges) yield* vault.loadChunks(manifestId, pa.archiveEntry, r, { aheadShare: 1 / ctx.jobs });
  }
  const loadOverSession = async (item: DataItem, signal: AbortSignal): Promise<void> => {
    const s = await sessions.take();
    const blocks = new BlockPool();
    let read = 0;
    let table: string | undefined;
    let reported = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const b of ranges(item)) {
        read += b.length;
        if (read - reported >= progressEveryBytes) {
          reported = read;
          ctx.onProgress?.({ phase: 'data', bytes: read, ...(table ? { currentTable: table } : {}) });
        }
        yield b;
      }
    }
    const events = copyDataMessages(counted(), { intSize: ctx.reblock!.intSize, consumed: (b) => vault.reuse(b), block: blocks.block });
    const unexpected = (what: string): InternalErrorUnexpected =>
      new InternalErrorUnexpected(`the data of a parallel restore item does not match its plan: ${what}`, { hint: 'This is a bug in pgvault: please report it.' });
    // Between two tables the next read may wait on the vault: a stop (another item failed, or the restore's cancel)
    // does not wait for it. Within a table the session's cancel ends the load.
    const aborted = new Stop();
    const onAbort = (): void => aborted.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) aborted.stop();
    const between = async (): Promise<IteratorResult<CopyDataEvent>> => {
      const r = await aborted.race(events.next());
      if (r === stopped) throw new UserErrorPgToolCancelled('the restore was cancelled while it read table data from the vault', { hint: 'Nothing was kept from the cancelled run.', cause: signal.reason });
      return r;
    };
    try {
      for (const id of item.dumpIds) {
        const e = byId.get(id)!;
        if (e.desc === 'SEQUENCE SET') {
          await s.run(e, signal);
          continue;
        }
        const head = await between();
        if (head.done || head.value.kind !== 'block' || head.value.dumpId !== id) throw unexpected(`the block of entry ${id} is not next`);
        table = `${e.namespace}.${e.tag}`;
        ctx.onProgress?.({ phase: 'data', bytes: read, currentTable: table });
        const next = async (): Promise<Buffer | undefined> => {
          const r = await events.next();
          if (r.done) throw unexpected(`the block of entry ${id} has no end`);
          if (r.value.kind === 'end') return undefined;
          if (r.value.kind !== 'data') throw unexpected(`a block starts inside the block of entry ${id}`);
          return r.value.message;
        };
        const sql = (created.has(id) ? truncatingCopy(e) : undefined) ?? e.copyStmt!;
        await s.copy(e, sql, next, { signal, written: (b) => void blocks.written(b) });
        ctx.onProgress?.({ phase: 'data', bytes: read, currentTable: table });
      }
      if (!(await between()).done) throw unexpected('a block is left over');
    } finally {
      signal.removeEventListener('abort', onAbort);
      // A failed load does not wait for a vault read still pending.
      events.return(undefined).catch(() => undefined);
    }
    bytes += read;
    sessions.give(s);
  };
  const runData = async (item: DataItem, signal: AbortSignal): Promise<void> => {
    if (useSessions && loadsOverSession(item)) return loadOverSession(item, signal);
    await sessions.loadingStarts();
    try {
      const list = join(ctx.dir, `data-${runs++}.list`);
      await writeFile(list, renderRestoreList(item.dumpIds, toc), { mode: 0o600 });
      const p = spawnPgRestore(ctx.cfg, {
        ...ctx.base,
        signal,
        list,
        section: 'data',
        onProgress: (x) => ctx.onProgress?.({ phase: 'data', bytes: x.bytes, currentTable: x.currentTable }),
      });
      // The blocks' bytes: the TOC in front of them was read from the vault once, for pre-data.
      bytes += (await feed(p, [loadToc, ranges(item)], { reblock: ctx.reblock, vault })) - loadToc.length;
      ctx.log.push(...p.log);
    } finally {
      sessions.loadingEnds();
    }
  };
  const runPost = async (item: PostItem, signal: AbortSignal): Promise<void> => {
    if (!useSessions) {
      const list = join(ctx.dir, `post-${runs++}.list`);
      await writeFile(list, renderRestoreList(item.dumpIds, toc), { mode: 0o600 });
      const p = spawnPgRestore(ctx.cfg, { ...ctx.base, signal, list, section: 'post-data' });
      await feed(p, [tocBytes]);
      ctx.log.push(...p.log);
      return;
    }
    const s = await sessions.take();
    // --no-tablespaces: pg_restore sets no default_tablespace for any entry, and neither does the session.
    for (const id of item.dumpIds) await s.run(ctx.base.noTablespaces ? { ...byId.get(id)!, tablespace: null } : byId.get(id)!, signal);
    sessions.give(s);
  };
  try {
    await runRestoreItems(dataItems, postItems, ctx.jobs, { data: runData, post: runPost }, ctx.base.signal);
  } finally {
    await sessions.close();
  }

  // 3. the rest (foreign keys, triggers, indexes spanning tables, matview data, then the ACL pass) with -j, from a
  //    seekable TOC-only file (no data in it, and no data entry in the list).
  const tocFile = join(ctx.dir, 'toc.dump');
  await writeFile(tocFile, tocBytes, { mode: 0o600 });
  const finalList = join(ctx.dir, 'final.list');
  await writeFile(finalList, renderRestoreList(final, toc), { mode: 0o600 });
  const post = spawnPgRestore(ctx.cfg, { ...ctx.base, list: finalList, file: tocFile, jobs: ctx.jobs });
  await post.done;
  ctx.log.push(...post.log);
  return bytes;
}
