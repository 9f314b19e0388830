/** A connection that restores the items of a parallel restore as SQL and is reused from one item to the next: the
 *  post-data entries of a table (its indexes and constraints) and the data items (its rows, with COPY, and sequence
 *  values). A pg_restore run per item costs a process, a TOC read and a SCRAM connection: 45–80 ms of a worker
 *  between two items, a dozen or more times per restore, and for data one more copy of every row. The session sends
 *  what pg_restore sends for such an entry, in the same order: its session settings once (taken from the very
 *  pg_restore that restores the rest, so they follow its version and options: restoreSettings), then per entry
 *  `SET default_tablespace` when the entry names another tablespace than the last one set, then the entry's
 *  definition as one simple query (pg_backup_archiver.c: _doSetFixedOutputState, _selectTablespace,
 *  _printTocEntry); for TABLE DATA its copy statement and then the rows (restore_toc_entry, _PrintTocData). Only
 *  INDEX, CONSTRAINT, FK CONSTRAINT, SEQUENCE SET and TABLE DATA entries are taken: pg_restore sets no owner for them,
 *  and they have no ACL of their own. Only archives whose TOC pg_restore would not re-encode or re-path per entry
 *  (sessionFits). Failures are the coded errors of a pg_restore run of the entry; cancellation cancels the running
 *  statement, as pg_restore's signal handler does. */
import { connect as netConnect } from 'node:net';
import type { Writable } from 'node:stream';
import pg from 'pg';
import { PgvaultError, Stop, stopped } from '../lib/index.ts';
import { tocEncoding, type TocEntry } from './archive/index.ts';
import { connect, mapClientError } from './connect.ts';
import { quoteIdent } from './grant-script.ts';
import { mapPgFailureText } from './map-pg-failure.ts';
import { describeTarget, type PgConnectionConfig } from './pg-connection-config.ts';
import { TransientErrorConnectionLost, UserErrorPgToolCancelled, UserErrorPgToolFailed } from './pg-errors.ts';

/** Entry kinds a session restores: post-data entries with no owner, ACL or data of their own. */
export const sessionEntryDescs: ReadonlySet<string> = new Set(['INDEX', 'CONSTRAINT', 'FK CONSTRAINT']);

/** Whether the archive's entries can go through a session unchanged:
 *  - its encoding is UTF8: the TOC is read as UTF-8 text and node-postgres sends UTF-8, so the definitions of an
 *    archive in another encoding (LATIN1 names or predicate literals) would not reach the server byte for byte;
 *  - it has a SEARCHPATH entry (pg_dump 10.3 and later): without one pg_restore sets search_path per entry. */
export function sessionFits(toc: readonly TocEntry[]): boolean {
  const encoding = tocEncoding(toc);
  return encoding?.toUpperCase().replace(/[-_]/g, '') === 'UTF8' && toc.some((e) => e.desc === 'SEARCHPATH');
}

/** The session settings in a script that pg_restore printed (`--file=-`): its SET and set_config statements (the
 *  same ones it sends on a database connection before the first entry), without comments and psql meta-commands. */
export function restoreSettings(script: string): string {
  const lines = script.split('\n').filter((l) => /^(SET |SELECT pg_catalog\.set_config\()/.test(l));
  if (!lines.some((l) => /^SET client_encoding /.test(l))) {
    throw new UserErrorPgToolFailed('pg_restore printed no session settings for the archive', {
      hint: 'Check that the pg_restore found by client discovery works (`pg_restore --version`).',
    });
  }
  return lines.join('\n');
}

/** An idle session must outlive a long data load of its worker: a role's idle_session_timeout (14+) would end it. */
const keepIdle = `SELECT pg_catalog.set_config('idle_session_timeout', '0', false) WHERE pg_catalog.current_setting('server_version_num')::int >= 140000`;

/** How long a cancel request may take before the session is closed anyway. */
const cancelTimeoutMs = 5_000;

export class RestoreSqlSession {
  readonly #client: pg.Client;
  readonly #cfg: PgConnectionConfig;
  /** The default_tablespace last set, as pg_restore tracks it (undefined: never set). */
  #tablespace: string | undefined;
  #ended = false;
  /** A cancellation under way (cancel request, then close): whoever ends the session waits for it. */
  #stopping: Promise<void> | undefined;
  readonly #log: ((line: string) => void) | undefined;

  private constructor(client: pg.Client, cfg: PgConnectionConfig, log: ((line: string) => void) | undefined) {
    this.#client = client;
    this.#cfg = cfg;
    this.#log = log;
    client.on('end', () => (this.#ended = true));
  }

  /** Connects to `cfg` (the database being restored) and sends the session settings (restoreSettings). `log` gets
   *  what pg_restore --verbose would write: a line per entry restored, and the server's warnings. */
  static async open(cfg: PgConnectionConfig, settings: string, log?: (line: string) => void): Promise<RestoreSqlSession> {
    const client = await connect(cfg);
    try {
      if (settings) await client.query(settings);
      await client.query(keepIdle);
      const session = new RestoreSqlSession(client, cfg, log);
      if (log) client.on('notice', (n: { severity?: string; message?: string }) => log(`pgvault: ${n.severity ?? 'NOTICE'}:  ${n.message ?? ''}`));
      return session;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw mapClientError(err, cfg);
    }
  }

  /** False once the connection is gone (closed, lost, or ended by the server while idle): open another. */
  get usable(): boolean {
    return !this.#ended;
  }

  /** Restores one entry: an index or constraint, or a SEQUENCE SET of a data item. `signal` cancels the running
   *  statement and ends the session. */
  async run(entry: TocEntry, signal?: AbortSignal): Promise<void> {
    if (!sessionEntryDescs.has(entry.desc) && entry.desc !== 'SEQUENCE SET') {
      throw new UserErrorPgToolFailed(`a restore session builds indexes and constraints and sets sequences, not ${entry.desc} entries`, {
        hint: 'This is a bug in pgvault: please report it.',
      });
    }
    const [doing, done] = entry.desc === 'SEQUENCE SET' ? ['executing', 'executed'] : ['creating', 'built'];
    await this.#guarded(entry, { log: `pgvault: ${doing} ${describeEntry(entry)}`, cancelledWhile: `${done} ${describeEntry(entry)}` }, signal, async (cancelled) => {
      const ts = entry.tablespace;
      if (ts !== null && ts !== this.#tablespace) {
        // pg_restore remembers the tablespace even when the SET fails.
        this.#tablespace = ts;
        await this.#client.query(ts === '' ? `SET default_tablespace = ''` : `SET default_tablespace = ${quoteIdent(ts)}`);
      }
      if (signal?.aborted) throw cancelled(); // aborted between the two: the definition must not start
      if (entry.defn) await this.#client.query(entry.defn);
    });
  }

  /** Loads the rows of one TABLE DATA entry, as pg_restore does: `sql` (the entry's copy statement, or it preceded by
   *  the TRUNCATE of its table: truncatingCopy) as one simple query; once the server is in copy-in mode, the CopyData
   *  messages `next` gives (copyDataMessages) written to the connection as they are, with backpressure, up to
   *  undefined, then CopyDone. A server error stops the writing at once; a failure of `next` (the vault read) sends
   *  CopyFail, so that the server rolls the load back, and is what this throws. `written` gets each message back once
   *  the socket has taken it. Returns the row bytes sent. */
  async copy(entry: TocEntry, sql: string, next: () => Promise<Buffer | undefined>, opts: { signal?: AbortSignal; written?: (b: Buffer) => void } = {}): Promise<number> {
    if (entry.desc !== 'TABLE DATA') {
      throw new UserErrorPgToolFailed(`a restore session loads table data, not ${entry.desc} entries`, { hint: 'This is a bug in pgvault: please report it.' });
    }
    const name = `${entry.namespace ? `${entry.namespace}.` : ''}${entry.tag ?? ''}`;
    const what = { log: `pgvault: processing data for table "${name}"`, cancelledWhile: `loaded the data of ${describeEntry(entry)}` };
    return this.#guarded(entry, what, opts.signal, async () => {
      const q = new CopyInQuery(sql, next, opts.written);
      await this.#client.query(q as unknown as pg.QueryConfig);
      await q.done;
      return q.bytes;
    });
  }

  /** Runs `body` for `entry` with the session's cancellation and error mapping: `signal` cancels the running statement
   *  and ends the session; a server error becomes the coded error a pg_restore run of the entry would give. `what`:
   *  the log line (pg_restore --verbose's) and what the restore was doing, for the cancellation's message. */
  async #guarded<T>(
    entry: TocEntry,
    what: { log: string; cancelledWhile: string },
    signal: AbortSignal | undefined,
    body: (cancelled: () => UserErrorPgToolCancelled) => Promise<T>,
  ): Promise<T> {
    const cancelled = (): UserErrorPgToolCancelled =>
      new UserErrorPgToolCancelled(`the restore was cancelled while it ${what.cancelledWhile}`, { hint: 'Nothing was kept from the cancelled run.', cause: signal?.reason });
    if (signal?.aborted) throw cancelled();
    if (this.#ended) throw new TransientErrorConnectionLost(`the connection for ${describeEntry(entry)} to ${describeTarget(this.#cfg)} is closed`);
    this.#log?.(what.log);
    const onAbort = (): void => void (this.#stopping ??= this.#cancel());
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await body(cancelled);
    } catch (err) {
      if (signal?.aborted) {
        await this.#stopping;
        throw cancelled();
      }
      if (err instanceof CopySourceFailed) throw err.cause;
      throw this.#failure(err, entry);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // An abort that came as the statement finished: its cancel ends before the session is used or dropped.
      await this.#stopping;
    }
  }

  async close(): Promise<void> {
    this.#ended = true;
    await this.#stopping;
    await this.#client.end().catch(() => undefined);
  }

  /** Cancels the statement running on the server with a cancel request (what pg_restore's signal handler sends
   *  through PQcancel: no login and no connection slot needed), then closes the session. */
  async #cancel(): Promise<void> {
    const { processID, secretKey } = this.#client as unknown as { processID: number | null; secretKey: number | null };
    if (processID !== null && secretKey !== null) await sendCancelRequest(this.#cfg, processID, secretKey).catch(() => undefined);
    this.#ended = true;
    await this.#client.end().catch(() => undefined);
  }

  /** The error a pg_restore run of the entry would have given: the same mapping of the server's message. */
  #failure(err: unknown, entry: TocEntry): PgvaultError {
    if (!(err instanceof pg.DatabaseError)) return mapClientError(err, this.#cfg); // the connection, not the statement
    const lines = [`${err.severity ?? 'ERROR'}:  ${err.message}`, ...(err.detail ? [`DETAIL:  ${err.detail}`] : []), ...(err.where ? [`CONTEXT:  ${err.where}`] : [])];
    const specific = mapPgFailureText(lines.join('\n'), { actor: 'pg_restore', cfg: this.#cfg }, err.code);
    if (specific) return specific;
    return new UserErrorPgToolFailed(`restoring ${describeEntry(entry)} failed on ${describeTarget(this.#cfg)}: ${err.message}`, {
      hint: 'See details.errors (the server\'s error) and the job log.',
      details: { actor: 'pg_restore', entry: entry.dumpId, sqlstate: err.code, errors: lines },
    });
  }
}

/** The sessions of a parallel restore's items, reused from one item to the next. Together with the data runs left to
 *  pg_restore (a pg_restore and its connection each, announced with loadingStarts/loadingEnds) they hold at most `limit`
 *  connections; a parallel restore passes jobs + 1, what pg_restore -j holds (a leader and `jobs` workers). A data run
 *  that would pass the bound closes an idle session first, so with the bound at jobs + 1 one idle session outlives
 *  both workers' loads and the next post item takes it. A session that ended while idle (the server, a failover) is
 *  replaced. */
export class RestoreSessionPool {
  readonly #open: () => Promise<RestoreSqlSession>;
  readonly #limit: number;
  readonly #idle: RestoreSqlSession[] = [];
  readonly #sessions = new Set<RestoreSqlSession>();
  /** Sessions being opened: they count against the bound before they are in #sessions. */
  #opening = 0;
  #loading = 0;

  constructor(open: () => Promise<RestoreSqlSession>, limit: number) {
    this.#open = open;
    this.#limit = limit;
  }

  /** An idle session, or a new one. Give it back when its item succeeded; a failed one is closed by close(). */
  async take(): Promise<RestoreSqlSession> {
    for (let s = this.#idle.pop(); s; s = this.#idle.pop()) {
      if (s.usable) return s;
      this.#sessions.delete(s);
    }
    this.#opening++;
    try {
      const s = await this.#open();
      this.#sessions.add(s);
      return s;
    } finally {
      this.#opening--;
    }
  }

  give(session: RestoreSqlSession): void {
    this.#idle.push(session);
  }

  /** A data run is about to connect: idle sessions beyond the bound are closed first. */
  async loadingStarts(): Promise<void> {
    this.#loading++;
    while (this.#idle.length > 0 && this.#sessions.size + this.#opening + this.#loading > this.#limit) {
      const s = this.#idle.shift()!;
      this.#sessions.delete(s);
      await s.close();
    }
  }

  loadingEnds(): void {
    this.#loading--;
  }

  /** Connections the sessions hold (idle or in use). */
  get size(): number {
    return this.#sessions.size;
  }

  async close(): Promise<void> {
    const all = [...this.#sessions];
    this.#sessions.clear();
    this.#idle.length = 0;
    await Promise.all(all.map((s) => s.close()));
  }
}

/** The source of a COPY failed (the vault read): what the load throws, after the server rolled it back. */
class CopySourceFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('the source of a COPY failed');
  }
}

interface CopyConnection {
  stream: Writable;
  query(text: string): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

/** A simple Query whose last statement is COPY … FROM stdin, as node-postgres runs a query object of its own (the
 *  Submittable interface: submit, then the handle* calls for the server's messages). On CopyInResponse it writes the
 *  messages of `next` to the socket; `done` settles with ReadyForQuery, or with the error. */
class CopyInQuery {
  readonly done: Promise<void>;
  bytes = 0;
  #settle!: (err?: unknown) => void;
  /** The first error: the server's, the connection's, or the source's (CopySourceFailed). */
  #error: unknown;
  /** Stopped when the query ended (an error, or ReadyForQuery): the writing stops. */
  readonly #ended = new Stop();

  constructor(
    readonly text: string,
    readonly next: () => Promise<Buffer | undefined>,
    readonly written: ((b: Buffer) => void) | undefined,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      let settled = false;
      this.#settle = (err) => {
        if (settled) return;
        settled = true;
        if (err === undefined) resolve();
        else reject(err);
      };
    });
  }

  submit(connection: CopyConnection): null {
    connection.query(this.text);
    return null;
  }

  handleCopyInResponse(connection: CopyConnection): void {
    void this.#pump(connection);
  }

  async #pump(connection: CopyConnection): Promise<void> {
    const stream = connection.stream;
    try {
      for (;;) {
        if (this.#ended.stopped) return;
        const r = await this.#ended.race(this.next());
        if (r === stopped) return;
        if (r === undefined) return connection.endCopyFrom();
        if (!stream.writable) return;
        const message = r;
        this.bytes += message.length - 5;
        // The next message waits until the socket has taken this one (node-postgres's socket says it may take more
        // long before): its buffer then goes back to `written` for the next block, and the load's memory stays at
        // the block or two in hand.
        const taken = new Promise<void>((resolve) =>
          stream.write(message, (err) => {
            if (!err) this.written?.(message);
            resolve();
          }),
        );
        if ((await this.#ended.race(taken)) === stopped) return;
        // A turn of the event loop before the next message: when the socket takes every write at once and the source
        // has its data in hand, the loop would otherwise run on in microtasks and never read the server's
        // ErrorResponse (after an error the server discards CopyData as fast as it comes).
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.#error ??= new CopySourceFailed(err);
      // The server rolls the COPY back and answers with an ErrorResponse and ReadyForQuery. The message stays in the
      // server's log: a fixed text, not the vault's error (which may name storage paths); that error is thrown here.
      if (!this.#ended.stopped && stream.writable) connection.sendCopyFail('pgvault could not read the table data from the vault');
    }
  }

  handleError(err: unknown): void {
    this.#error ??= err;
    this.#ended.stop();
    this.#settle(this.#error);
  }

  handleReadyForQuery(): void {
    this.#ended.stop();
    this.#settle(this.#error);
  }

  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** The protocol's CancelRequest (int32 length 16, code 80877102, backend pid, secret key) on a fresh socket, as
 *  libpq's PQcancel sends it; the server closes the socket once it has read it. */
function sendCancelRequest(cfg: PgConnectionConfig, pid: number, key: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = cfg.host.startsWith('/') ? netConnect(`${cfg.host}/.s.PGSQL.${cfg.port}`) : netConnect(cfg.port, cfg.host);
    const timer = setTimeout(() => socket.destroy(new Error('the cancel request timed out')), cancelTimeoutMs);
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeInt32BE(pid, 8);
    packet.writeInt32BE(key, 12);
    socket.on('connect', () => socket.end(packet));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function describeEntry(e: TocEntry): string {
  return `${e.desc} "${e.namespace ? `${e.namespace}.` : ''}${e.tag ?? ''}"`;
}
