/** A connection that restores post-data entries of a parallel restore (the indexes and constraints of one table) as
 *  SQL and stays open from one item to the next. A pg_restore run per item costs a process, a TOC read and a SCRAM
 *  connection: 45–80 ms of a worker between two index builds, a dozen times per restore. The session sends what
 *  pg_restore sends for such an entry, in the same order: its session settings once (taken from the very
 *  pg_restore that restores the rest, so they follow its version: restoreSettings), then per entry
 *  `SET default_tablespace` when the entry names another tablespace, then the entry's definition as one simple
 *  query. Only INDEX and CONSTRAINT entries are taken: pg_restore sets no owner for them (they have none of their
 *  own), and they have no data and no ACL. Failures are the coded errors of a pg_restore run of the entry. */
import type pg from 'pg';
import { UserErrorInvalidInput } from '../lib/index.ts';
import type { TocEntry } from './archive/index.ts';
import { connect, mapClientError } from './connect.ts';
import { quoteIdent } from './grant-script.ts';
import { mapPgFailureText } from './map-pg-failure.ts';
import { describeTarget, type PgConnectionConfig } from './pg-connection-config.ts';
import { UserErrorPgToolCancelled, UserErrorPgToolFailed } from './pg-errors.ts';

/** Entry kinds a session restores. */
export const sessionEntryDescs: ReadonlySet<string> = new Set(['INDEX', 'CONSTRAINT']);

/** The session settings in a script that pg_restore printed (`--file=-`): its SET and set_config statements (the
 *  same ones it sends on a database connection before the first entry), without comments and psql meta-commands. */
export function restoreSettings(script: string): string {
  const lines = script.split('\n').filter((l) => /^(SET |SELECT pg_catalog\.set_config\()/.test(l));
  if (!lines.some((l) => /^SET client_encoding /.test(l))) {
    throw new UserErrorInvalidInput('pg_restore printed no session settings for the archive', {
      hint: 'Check that the pg_restore found by client discovery works (`pg_restore --version`).',
    });
  }
  return lines.join('\n');
}

export class RestoreSqlSession {
  readonly #client: pg.Client;
  readonly #cfg: PgConnectionConfig;
  /** The default_tablespace last set, as pg_restore tracks it (undefined: never set). */
  #tablespace: string | undefined;
  #closed = false;

  private constructor(client: pg.Client, cfg: PgConnectionConfig) {
    this.#client = client;
    this.#cfg = cfg;
  }

  /** Connects to `cfg` (the database being restored) and sends the session settings (restoreSettings). */
  static async open(cfg: PgConnectionConfig, settings: string): Promise<RestoreSqlSession> {
    const client = await connect(cfg);
    const session = new RestoreSqlSession(client, cfg);
    try {
      await client.query(settings);
    } catch (err) {
      await session.close();
      throw mapClientError(err, cfg);
    }
    return session;
  }

  /** Restores one entry; `signal` ends the session (the connection closes, the server stops the statement when it
   *  notices, and the restore drops the database with FORCE). */
  async run(entry: TocEntry, signal?: AbortSignal): Promise<void> {
    if (!sessionEntryDescs.has(entry.desc)) throw new UserErrorInvalidInput(`a restore session takes indexes and constraints, not ${entry.desc}`);
    const cancelled = (): UserErrorPgToolCancelled =>
      new UserErrorPgToolCancelled(`the restore was cancelled while it built ${describeEntry(entry)}`, { hint: 'Nothing was kept from the cancelled run.', cause: signal?.reason });
    if (signal?.aborted) throw cancelled();
    const onAbort = (): void => void this.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const ts = entry.tablespace;
      if (ts !== null && ts !== this.#tablespace) {
        await this.#client.query(ts === '' ? `SET default_tablespace = ''` : `SET default_tablespace = ${quoteIdent(ts)}`);
        this.#tablespace = ts;
      }
      if (entry.defn) await this.#client.query(entry.defn);
    } catch (err) {
      if (signal?.aborted) throw cancelled();
      throw this.#failure(err, entry);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.end().catch(() => undefined);
  }

  /** The error a pg_restore run of the entry would have given: the same mapping of the server's message. */
  #failure(err: unknown, entry: TocEntry): Error {
    const e = err as { code?: unknown; message?: unknown; detail?: unknown };
    const message = typeof e?.message === 'string' ? e.message : String(err);
    const sqlstate = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
    if (sqlstate === undefined) return mapClientError(err, this.#cfg); // the connection, not the statement
    const lines = [`ERROR:  ${message}`, ...(typeof e.detail === 'string' ? [`DETAIL:  ${e.detail}`] : [])];
    const specific = mapPgFailureText(lines.join('\n'), { actor: 'pg_restore', cfg: this.#cfg }, sqlstate);
    if (specific) return specific;
    return new UserErrorPgToolFailed(`restoring ${describeEntry(entry)} failed on ${describeTarget(this.#cfg)}: ${message}`, {
      hint: 'See details.errors (the server\'s error) and the job log.',
      details: { actor: 'pg_restore', entry: entry.dumpId, sqlstate, errors: lines },
    });
  }
}

function describeEntry(e: TocEntry): string {
  return `${e.desc} "${e.namespace ? `${e.namespace}.` : ''}${e.tag ?? ''}"`;
}
