/** Connection settings for a PostgreSQL server: the PgConnectionConfig shape, parsing of postgresql:// URLs
 *  (libpq's URI rules, query options included) and rendering as a libpq conninfo string with safe quoting.
 *  It must never put the password into a conninfo string, an error message or a detail. */
import { registerSecret, UserErrorInvalidInput } from '../lib/index.ts';

/** Where and as whom to connect. `options` holds further libpq keywords (sslmode, sslrootcert, connect_timeout,
 *  application_name, …); host/port/user/password/dbname never appear there, they have their own fields.
 *  A host starting with "/" is a Unix-socket directory, as in libpq. */
export interface PgConnectionConfig {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  options?: Record<string, string>;
}

/** libpq keywords (13–17) accepted in `options` and in URL query strings. Those with their own field
 *  (host, port, user, password, dbname) and those that would undo pgvault's guarantees are handled apart. */
const optionKeywords = new Set([
  'hostaddr', 'connect_timeout', 'client_encoding', 'options', 'application_name', 'fallback_application_name',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout',
  'sslmode', 'sslnegotiation', 'sslcompression', 'sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni',
  'sslcertmode', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'requirepeer', 'require_auth',
  'channel_binding', 'gssencmode', 'krbsrvname', 'gsslib', 'gssdelegation', 'target_session_attrs', 'load_balance_hosts',
]);

/** Keywords refused with a reason: each would either leak a secret into argv or let something other than this
 *  config decide where pg_dump connects. */
const refusedKeywords: Record<string, string> = {
  sslpassword: 'an encrypted client key would need its passphrase on the command line; use an unencrypted key file with mode 0600',
  passfile: 'pgvault passes the password through its own private password file',
  service: 'a service entry from pg_service.conf could override the host and database; spell the settings out instead',
  replication: 'a logical backup needs a normal connection, not a replication one',
};

export const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof sslModes)[number];

function invalid(message: string, hint: string, details: Record<string, unknown> = {}): UserErrorInvalidInput {
  return new UserErrorInvalidInput(message, { hint, details: { field: 'url', ...details } });
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(`the connection URL has a malformed percent-encoding in its ${what}`, 'Encode reserved characters as %XX (e.g. "@" as %40, "/" as %2F).');
  }
}

/** Validates and normalises libpq options (shared by parsePgUrl and by callers building configs by hand). */
export function checkOptions(options: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    const reason = refusedKeywords[key];
    if (reason !== undefined) {
      throw invalid(`the connection option "${key}" is not supported`, `Remove "${key}": ${reason}.`, { option: key });
    }
    if (key === 'ssl') {
      // libpq accepts ssl=true for JDBC compatibility and reads it as sslmode=require.
      if (value !== 'true') throw invalid(`the connection option "ssl=${value}" is not understood`, 'Use sslmode=disable|allow|prefer|require|verify-ca|verify-full.');
      out.sslmode = 'require';
      continue;
    }
    if (!optionKeywords.has(key)) {
      throw invalid(`"${key}" is not a libpq connection option`, 'See the "Parameter Key Words" list in the libpq documentation (sslmode, connect_timeout, application_name, …).', { option: key });
    }
    if (key === 'sslmode' && !(sslModes as readonly string[]).includes(value)) {
      throw invalid(`sslmode "${value}" is not one of ${sslModes.join(', ')}`, 'Use sslmode=require to insist on SSL, verify-full to also check the certificate and host name.');
    }
    if (key === 'connect_timeout' && !/^\d+$/.test(value)) {
      throw invalid(`connect_timeout "${value}" is not a whole number of seconds`, 'Use e.g. connect_timeout=10.');
    }
    out[key] = value;
  }
  return out;
}

/** Parses a postgresql:// (or postgres://) URI as libpq does: percent-decoded user, password, host, port and
 *  database, and query options (which may also give host, port, user, password and dbname). One host only.
 *  The database defaults to the user name, as in libpq. The password is registered for redaction.
 *  Throws UserErrorInvalidInput (never echoing the URL, which may hold the password). */
export function parsePgUrl(url: string): PgConnectionConfig {
  const m = /^(postgres(?:ql)?):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/i.exec(url.trim());
  if (!m) {
    throw invalid('the connection URL is not a postgresql:// URL', 'Write it as postgresql://user:password@host:5432/database?sslmode=require.');
  }
  const authority = m[2] ?? '';
  const path = m[3] ?? '';
  const query = m[4] ?? '';
  if (m[5]) throw invalid('the connection URL has a fragment (#…)', 'Remove the "#" part; encode a "#" in a password as %23.');

  let user: string | undefined;
  let password: string | undefined;
  let hostPort = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    hostPort = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'user name') || undefined;
    if (colon >= 0) password = decode(userinfo.slice(colon + 1), 'password');
    registerSecret(password);
  }
  if (hostPort.includes(',')) {
    throw invalid('the connection URL names several hosts', 'Give one host: pgvault backs up one server per datasource (name a standby or the primary).');
  }
  let host: string | undefined;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(hostPort);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else if (hostPort !== '') {
    const colon = hostPort.lastIndexOf(':');
    host = decode(colon >= 0 ? hostPort.slice(0, colon) : hostPort, 'host') || undefined;
    port = colon >= 0 ? hostPort.slice(colon + 1) : undefined;
  }
  let database = path.length > 1 ? decode(path.slice(1), 'database name') : undefined;

  const raw: Record<string, string> = {};
  if (query.length > 1) {
    for (const pair of query.slice(1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq < 0) throw invalid('a query option of the connection URL has no "="', 'Write options as key=value, e.g. ?sslmode=require&connect_timeout=10.');
      const key = decode(pair.slice(0, eq), 'query options');
      const value = decode(pair.slice(eq + 1), 'query options');
      if (key === 'password') {
        password = value;
        registerSecret(value);
      } else if (key === 'host') host = value;
      else if (key === 'port') port = value;
      else if (key === 'user') user = value;
      else if (key === 'dbname') database = value;
      else raw[key] = value;
    }
  }
  if (host === undefined || host === '') {
    throw invalid('the connection URL names no host', 'Add the host: postgresql://user@db.example.com:5432/app (or ?host=/var/run/postgresql for a Unix socket).');
  }
  if (user === undefined || user === '') {
    throw invalid('the connection URL names no user', 'Add the role to connect as: postgresql://backup@host/app.');
  }
  const portNum = port === undefined || port === '' ? 5432 : Number(port);
  if (!Number.isInteger(portNum) || portNum < 1 || portNum > 65535) {
    throw invalid('the port of the connection URL is not a number from 1 to 65535', 'Write the port as digits, e.g. :5432.');
  }
  const cfg: PgConnectionConfig = { host, port: portNum, user, database: database ?? user };
  if (password !== undefined) cfg.password = password;
  const options = checkOptions(raw);
  if (Object.keys(options).length > 0) cfg.options = options;
  return cfg;
}

/** Quotes one conninfo value as libpq's parser reads it: single quotes, with backslash and quote escaped.
 *  Inside quotes nothing (spaces, "=", keywords) is interpreted, so a value can never add a keyword. */
export function quoteConninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Renders the config as a libpq conninfo string: host, port, user, then dbname (unless `database: false`), then
 *  the options. The password is never included (it travels in a private password file). */
export function toConninfo(cfg: PgConnectionConfig, opts: { database?: string | false } = {}): string {
  const pairs: [string, string][] = [
    ['host', cfg.host],
    ['port', String(cfg.port)],
    ['user', cfg.user],
  ];
  const db = opts.database === undefined ? cfg.database : opts.database;
  if (db !== false) pairs.push(['dbname', db]);
  for (const [k, v] of Object.entries(checkOptions(cfg.options ?? {}))) pairs.push([k, v]);
  return pairs.map(([k, v]) => `${k}=${quoteConninfoValue(v)}`).join(' ');
}

/** The config with another database, everything else kept. */
export function withDatabase(cfg: PgConnectionConfig, database: string): PgConnectionConfig {
  return { ...cfg, database };
}

/** The effective sslmode (libpq's default is prefer; Unix sockets never use SSL). */
export function sslModeOf(cfg: PgConnectionConfig): SslMode {
  const mode = cfg.options?.sslmode;
  return mode !== undefined && (sslModes as readonly string[]).includes(mode) ? (mode as SslMode) : 'prefer';
}

/** A description safe for messages: host, port, database and user, never the password. */
export function describeTarget(cfg: PgConnectionConfig): string {
  const where = cfg.host.startsWith('/') ? `socket ${cfg.host}` : `${cfg.host}:${cfg.port}`;
  return `database "${cfg.database}" on ${where} as "${cfg.user}"`;
}
