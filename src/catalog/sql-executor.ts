/** The one seam between the catalog's SQL and a driver: embedded PGlite or a pg Pool on any PostgreSQL.
 *  Rows come back normalised (bigint → number, bytea → Buffer) so queries do not care which driver runs them.
 *  Driver errors are translated here into coded errors; query parameters never reach a message (they may hold
 *  sealed secrets or token hashes). Must never hold business logic. */
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';
import { PgvaultError, UserErrorConflict, UserErrorInvalidInput, InternalErrorUnexpected } from '../lib/index.ts';
import { TransientErrorCatalogUnavailable } from './catalog-errors.ts';

export type SqlParam = string | number | boolean | null | Date | Buffer | Uint8Array;
export type Row = Record<string, unknown>;

/** Runs SQL against the catalog database.
 *  query(): one statement with $n parameters; resolves to the rows (empty for statements without RETURNING).
 *  exec(): a parameterless script of several statements (migrations).
 *  transaction(): runs fn with an executor bound to one transaction; commits when fn resolves, rolls back
 *  and rethrows when it throws. Nested calls on a transaction executor join the outer transaction. */
export interface SqlExecutor {
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

interface DbErrorShape {
  code?: string;
  constraint?: string;
  message?: string;
}

/** Translates a driver error into a PgvaultError: constraint violations become user errors (the constraint
 *  name tells which rule), connection failures become transient, anything else internal. */
export function translateDbError(err: unknown): PgvaultError {
  if (err instanceof PgvaultError) return err;
  const e = (err ?? {}) as DbErrorShape;
  const code = typeof e.code === 'string' ? e.code : '';
  const constraint = e.constraint ?? '';
  if (code === '23505') {
    return new UserErrorConflict(`a record with the same key already exists (${constraint || 'unique constraint'})`, {
      hint: 'Choose another name, or update the existing record instead of creating one.',
      details: { constraint },
    });
  }
  if (code === '23503') {
    return new UserErrorConflict(`the change would break a reference between records (${constraint || 'foreign key'})`, {
      hint: 'A referenced record does not exist, or the record is still referenced (delete its dependants first).',
      details: { constraint },
    });
  }
  if (code === '23514' || code === '22P02' || code === '22007' || code === '22008' || code === '22003') {
    return new UserErrorInvalidInput(`a value was rejected by the catalog (${constraint || code})`, {
      hint: 'Check the field values against the documented ranges.',
      details: { constraint, sqlstate: code },
    });
  }
  if (code.startsWith('08') || code === '57P01' || code === '57P03' || code === '53300' ||
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(code)) {
    return new TransientErrorCatalogUnavailable(`the catalog database is unreachable (${code})`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new InternalErrorUnexpected(`catalog query failed: ${message}${code ? ` (SQLSTATE ${code})` : ''}`, {
    details: { sqlstate: code },
  });
}

function normaliseValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function normaliseRows<T>(rows: Row[]): T[] {
  for (const row of rows) {
    for (const k of Object.keys(row)) row[k] = normaliseValue(row[k]);
  }
  return rows as T[];
}

/** pg returns int8 and numeric as strings to stay exact; catalog counters (bytes, ids of log lines) stay far below 2^53. */
function pgRows<T>(rows: Row[], fields: { name: string; dataTypeID: number }[]): T[] {
  const int8 = fields.filter((f) => f.dataTypeID === 20).map((f) => f.name);
  if (int8.length > 0) {
    for (const row of rows) for (const k of int8) if (typeof row[k] === 'string') row[k] = Number(row[k]);
  }
  return normaliseRows<T>(rows);
}

type PgliteLike = Pick<PGlite, 'query' | 'exec'> | Transaction;

class PgliteTxExecutor implements SqlExecutor {
  constructor(private readonly tx: PgliteLike) {}
  async query<T extends Row = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    try {
      const res = await this.tx.query<Row>(sql, params as unknown[]);
      return normaliseRows<T>(res.rows);
    } catch (err) {
      throw translateDbError(err);
    }
  }
  async exec(sql: string): Promise<void> {
    try {
      await this.tx.exec(sql);
    } catch (err) {
      throw translateDbError(err);
    }
  }
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

/** PGlite is one session in this process: its own mutex serialises queries and transactions. */
export class PgliteExecutor extends PgliteTxExecutor {
  constructor(private readonly db: PGlite) {
    super(db);
  }
  override async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction((tx) => fn(new PgliteTxExecutor(tx)));
    } catch (err) {
      throw translateDbError(err);
    }
  }
}

class PgClientExecutor implements SqlExecutor {
  constructor(private readonly client: pg.PoolClient) {}
  async query<T extends Row = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    try {
      const res = await this.client.query(sql, params as unknown[]);
      return pgRows<T>(res.rows as Row[], res.fields);
    } catch (err) {
      throw translateDbError(err);
    }
  }
  async exec(sql: string): Promise<void> {
    try {
      await this.client.query(sql);
    } catch (err) {
      throw translateDbError(err);
    }
  }
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

/** A pg Pool: every query may use another connection; a transaction pins one connection until it ends. */
export class PgPoolExecutor implements SqlExecutor {
  constructor(private readonly pool: pg.Pool) {}
  async query<T extends Row = Row>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    try {
      const res = await this.pool.query(sql, params as unknown[]);
      return pgRows<T>(res.rows as Row[], res.fields);
    } catch (err) {
      throw translateDbError(err);
    }
  }
  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (err) {
      throw translateDbError(err);
    }
  }
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translateDbError(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(new PgClientExecutor(client));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone; do not hand it back to the pool
      }
      throw translateDbError(err);
    } finally {
      client.release(broken);
    }
  }
}
