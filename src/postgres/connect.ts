/** pgvault's own connections to a source or target server (pre-flight, database listing), through node-postgres,
 *  with libpq's meaning of the connection options: sslmode (disable … verify-full, prefer by default),
 *  sslrootcert/sslcert/sslkey, connect_timeout, application_name, options, keepalives.
 *  Failures become coded errors; it must never log or echo the password. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { asPgvaultError, PgvaultError, registerSecret, UserErrorInvalidInput } from '../lib/index.ts';
import { checkOptions, sslModeOf, type PgConnectionConfig } from './pg-connection-config.ts';
import { mapPgFailureText } from './map-pg-failure.ts';

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UserErrorInvalidInput(`the ${what} file "${path}" cannot be read`, {
      hint: `Check the path given as ${what} and that pgvault's OS user may read it.`,
      details: { field: what },
    });
  }
}

/** TLS settings as libpq applies them for one sslmode; false means a plain connection. */
export function tlsOptionsFor(cfg: PgConnectionConfig, mode = sslModeOf(cfg)): false | ConnectionOptions {
  if (mode === 'disable' || cfg.host.startsWith('/')) return false;
  const o = cfg.options ?? {};
  const tls: ConnectionOptions = {};
  if (o.sslcert) tls.cert = readPem(o.sslcert, 'sslcert');
  if (o.sslkey) tls.key = readPem(o.sslkey, 'sslkey');
  const defaultRoot = join(homedir(), '.postgresql', 'root.crt');
  const rootcert = o.sslrootcert;
  let verify: 'none' | 'ca' | 'full' = mode === 'verify-full' ? 'full' : mode === 'verify-ca' ? 'ca' : 'none';
  // libpq: with sslmode=require and a root certificate given, the server certificate is verified as with verify-ca.
  if (mode === 'require' && rootcert !== undefined && rootcert !== 'system') verify = 'ca';
  if (verify === 'none') return { ...tls, rejectUnauthorized: false };
  if (rootcert === 'system') return { ...tls, rejectUnauthorized: true };
  tls.ca = readPem(rootcert ?? defaultRoot, 'sslrootcert');
  tls.rejectUnauthorized = true;
  if (verify === 'ca') tls.checkServerIdentity = () => undefined;
  return tls;
}

function clientConfig(cfg: PgConnectionConfig, ssl: false | ConnectionOptions): pg.ClientConfig {
  const o = checkOptions(cfg.options ?? {});
  const c: pg.ClientConfig = { host: cfg.host, port: cfg.port, user: cfg.user, database: cfg.database, ssl };
  if (cfg.password !== undefined) c.password = cfg.password;
  if (o.application_name !== undefined) c.application_name = o.application_name;
  else if (o.fallback_application_name !== undefined) c.fallback_application_name = o.fallback_application_name;
  if (o.connect_timeout !== undefined && Number(o.connect_timeout) > 0) c.connectionTimeoutMillis = Number(o.connect_timeout) * 1000;
  if (o.options !== undefined) c.options = o.options;
  // libpq keeps TCP keepalives on unless keepalives=0; node-postgres would leave them off. A reused restore session
  // that sat idle behind a NAT or load balancer is then found dead by the kernel, not by the next entry.
  c.keepAlive = o.keepalives !== '0';
  if (o.keepalives_idle !== undefined) c.keepAliveInitialDelayMillis = Number(o.keepalives_idle) * 1000;
  return c;
}

/** The coded error for a failed node-postgres connect or query on `cfg`. */
export function mapClientError(err: unknown, cfg: PgConnectionConfig): PgvaultError {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const text = `${typeof e?.message === 'string' ? e.message : String(err)}${code ? ` (${code})` : ''}`;
  const sqlstate = code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  return mapPgFailureText(text, { actor: 'connection', cfg }, sqlstate) ?? asPgvaultError(err);
}

async function tryConnect(cfg: PgConnectionConfig, ssl: false | ConnectionOptions): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(cfg, ssl));
  // An idle client whose server goes away emits 'error'; the owner sees the failure on its next query instead.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Opens a connection as libpq would for this config. sslmode=prefer (the default) tries SSL and falls back to a
 *  plain connection when the server offers none; allow tries plain first. The caller must end() the client.
 *  Throws coded errors: UserErrorAuthenticationFailed, UserErrorDatabaseNotFound, UserErrorSslUnavailable,
 *  UserErrorMissingDBPermissions (no CONNECT), TransientErrorServerUnavailable … */
export async function connect(cfg: PgConnectionConfig): Promise<pg.Client> {
  registerSecret(cfg.password);
  const mode = sslModeOf(cfg);
  try {
    if (mode === 'prefer' && !cfg.host.startsWith('/')) {
      try {
        return await tryConnect(cfg, tlsOptionsFor(cfg, 'require'));
      } catch (err) {
        // As libpq: no SSL on the server, or the server refused the session over SSL (an ErrorResponse with its
        // SQLSTATE, e.g. pg_hba.conf with hostnossl lines only): once more without SSL.
        const code = (err as { code?: unknown })?.code;
        const refusedOverSsl = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
        if (!/does not support SSL/.test(String((err as Error)?.message)) && !refusedOverSsl) throw err;
        return await tryConnect(cfg, false);
      }
    }
    if (mode === 'allow') {
      try {
        return await tryConnect(cfg, false);
      } catch (err) {
        // Only a server that insists on SSL (hostssl-only pg_hba.conf) is worth a second, encrypted attempt.
        if (!/no encryption/.test(String((err as Error)?.message))) throw err;
        return await tryConnect(cfg, tlsOptionsFor(cfg, 'require'));
      }
    }
    return await tryConnect(cfg, tlsOptionsFor(cfg, mode));
  } catch (err) {
    throw mapClientError(err, cfg);
  }
}

/** Runs `fn` on a fresh connection and always closes it. */
export async function withConnection<T>(cfg: PgConnectionConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(cfg);
  try {
    return await fn(client);
  } catch (err) {
    throw err instanceof PgvaultError ? err : mapClientError(err, cfg);
  } finally {
    await client.end().catch(() => undefined);
  }
}
