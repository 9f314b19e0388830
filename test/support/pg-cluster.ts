/** The real-PostgreSQL test harness: starts throw-away servers of majors 13–17, each initdb'd into its own temp
 *  dir, on a free loopback port, with a private socket dir and scram-sha-256 password auth over TCP.
 *  As root it runs every server as the unprivileged `postgres` OS user. Servers are stopped and their dirs removed
 *  by stop(), at process exit or signal, and (for a killed test process) by the next harness that starts.
 *  It must never touch a server it did not start, and never put the superuser password into argv or logs. */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { InternalErrorUnexpected, UserErrorInvalidInput, registerSecret } from '../../src/lib/index.ts';

export type PgMajor = 13 | 14 | 15 | 16 | 17;

export const allMajors: readonly PgMajor[] = [13, 14, 15, 16, 17];

/** One running throw-away server. Every method connects afresh over TCP with the superuser password (no pooled
 *  connection is kept, so CREATE DATABASE … TEMPLATE and DROP DATABASE are never blocked by the harness).
 *  stop() is idempotent; after it the other methods fail. */
export interface PgCluster {
  readonly major: PgMajor;
  readonly version: string; // server_version without a distribution suffix, e.g. "15.18"
  readonly versionNum: number; // server_version_num, e.g. 150018
  readonly host: string; // "127.0.0.1"
  readonly port: number;
  readonly socketDir: string; // private, owned by the server's OS user
  readonly dataDir: string;
  readonly binDir: string; // where this server's initdb/pg_ctl/postgres live
  readonly logFile: string;
  readonly superuser: string; // "postgres"
  readonly password: string; // random superuser password (scram-sha-256 over TCP)
  url(database?: string, user?: string, password?: string): string; // postgresql://user:pw@127.0.0.1:port/db
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** A connected client as the superuser (or the given user); the caller must end() it. */
  connect(database?: string, user?: string, password?: string): Promise<pg.Client>;
  createRole(name: string, password: string, attrs?: string): Promise<void>; // e.g. attrs 'LOGIN CREATEDB'
  createDatabase(name: string, owner?: string, opts?: { template?: string }): Promise<void>;
  dropDatabase(name: string): Promise<void>; // terminates its sessions first; no error when missing
  stop(): Promise<void>; // stops the server and removes its dirs; idempotent
}

export interface StartClusterOptions {
  major: PgMajor;
  /** Extra postgresql.conf settings, written verbatim as `name = 'value'` (they override the harness defaults). */
  settings?: Record<string, string>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dirPrefix = 'pgvault-pg';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Where the server binaries of a major live: PGVAULT_TEST_PG<major>_BIN, else Debian's 15, else the npm aliases. */
export function binDirFor(major: PgMajor): string {
  const override = process.env[`PGVAULT_TEST_PG${major}_BIN`];
  if (override) return override;
  if (major === 15) return '/usr/lib/postgresql/15/bin';
  return join(repoRoot, 'node_modules', `pg${major}`, 'native', 'bin');
}

/** Which majors have initdb, pg_ctl and postgres on this machine. */
export function availableMajors(): PgMajor[] {
  return allMajors.filter((m) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(binDirFor(m), b))));
}

// ---- process-wide registry: stop every server we started, whatever way the process ends ----

interface Registered {
  binDir: string;
  dataDir: string;
  baseDir: string;
}
const running = new Map<string, Registered>();
let hooksInstalled = false;

function stopSync(r: Registered): void {
  if (existsSync(join(r.dataDir, 'postmaster.pid'))) {
    const [cmd, args] = asServerUser(join(r.binDir, 'pg_ctl'), ['stop', '-D', r.dataDir, '-m', 'immediate', '-w', '-t', '20']);
    spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
  }
  rmSync(r.baseDir, { recursive: true, force: true });
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const r of running.values()) stopSync(r);
    running.clear();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only take over a signal nobody else handles; re-raise it so the process still dies as it would have.
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => {
      for (const r of running.values()) stopSync(r);
      running.clear();
      process.kill(process.pid, signal);
    });
  }
  sweepOrphanClusters();
}

/** Servers whose owning test process died by SIGKILL: stop them and remove their dirs. Only dirs we mark as ours
 *  (an owner.json with a dead pid) are touched. Runs once when a process starts its first cluster. */
export function sweepOrphanClusters(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((n) => new RegExp(`^${dirPrefix}(${allMajors.join('|')})-`).test(n));
  } catch {
    return;
  }
  for (const name of names) {
    const baseDir = join(tmpdir(), name);
    let owner: { pid: number; binDir: string } | undefined;
    try {
      owner = JSON.parse(readFileSync(join(baseDir, 'owner.json'), 'utf8')) as { pid: number; binDir: string };
    } catch {
      continue;
    }
    if (pidAlive(owner.pid)) continue;
    stopSync({ binDir: owner.binDir, dataDir: join(baseDir, 'data'), baseDir });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---- running commands as the server's OS user ----

let postgresIds: { uid: number; gid: number } | undefined;
function serverUserIds(): { uid: number; gid: number } {
  if (postgresIds) return postgresIds;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new InternalErrorUnexpected('the tests run as root but there is no "postgres" OS user to run PostgreSQL as', {
      hint: 'Create one: useradd --system --user-group postgres (PostgreSQL refuses to run as root).',
    });
  }
  postgresIds = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  return postgresIds;
}

function asServerUser(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export function giveToServerUser(path: string): void {
  if (!isRoot) return;
  const { uid, gid } = serverUserIds();
  chownSync(path, uid, gid);
}

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; output: string }> {
  const [c, a] = asServerUser(cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(c, a, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function confLine(name: string, value: string): string {
  if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) {
    throw new UserErrorInvalidInput(`setting name "${name}" is not a PostgreSQL parameter name`, {
      hint: 'Use names such as "shared_buffers" or "max_wal_size".',
    });
  }
  return `${name} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log file)';
  }
}

// ---- start ----

/** initdb a fresh cluster of `major` and start it. Fails with the server log's tail when it cannot start. */
export async function startCluster(opts: StartClusterOptions): Promise<PgCluster> {
  const { major } = opts;
  if (!allMajors.includes(major)) {
    throw new UserErrorInvalidInput(`PostgreSQL major ${String(major)} is not supported by the test harness`, {
      hint: `Use one of ${allMajors.join(', ')}.`,
    });
  }
  const binDir = binDirFor(major);
  if (!availableMajors().includes(major)) {
    throw new UserErrorInvalidInput(`no PostgreSQL ${major} server binaries in "${binDir}"`, {
      hint: 'Run npm ci (the pg13/pg14/pg16/pg17 npm aliases) or apt-get install postgresql-15.',
    });
  }
  installHooks();

  const baseDir = mkdtempSync(join(tmpdir(), `${dirPrefix}${major}-`));
  const dataDir = join(baseDir, 'data');
  const socketDir = join(baseDir, 'socket');
  const logFile = join(baseDir, 'server.log');
  const reg: Registered = { binDir, dataDir, baseDir };
  running.set(baseDir, reg);
  writeFileSync(join(baseDir, 'owner.json'), JSON.stringify({ pid: process.pid, binDir }));
  try {
    mkdirSync(socketDir, { mode: 0o700 });
    giveToServerUser(baseDir);
    giveToServerUser(socketDir);

    const password = randomBytes(18).toString('base64url');
    registerSecret(password);
    const pwFile = join(baseDir, 'pwfile');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    giveToServerUser(pwFile);
    const init = await run(join(binDir, 'initdb'), [
      '-D', dataDir, '-U', 'postgres', `--pwfile=${pwFile}`,
      '--locale=C.UTF-8', '--encoding=UTF8', '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync',
    ]);
    rmSync(pwFile, { force: true });
    if (init.code !== 0) {
      throw new InternalErrorUnexpected(`initdb of PostgreSQL ${major} in "${dataDir}" failed (exit ${init.code})`, {
        hint: 'See the initdb output in details.output.',
        details: { output: init.output.slice(-4000) },
      });
    }

    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: socketDir,
      unix_socket_permissions: '0700',
      password_encryption: 'scram-sha-256',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      wal_level: 'minimal',
      max_wal_senders: '0',
      shared_buffers: '32MB',
      max_connections: '60',
      // Statements that fail may carry a password (CREATE ROLE … PASSWORD): keep them out of the log.
      log_min_error_statement: 'panic',
      ...opts.settings,
    };
    writeFileSync(join(dataDir, 'postgresql.conf'), `\ninclude 'pgvault-test.conf'\n`, { flag: 'a' });

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const conf = Object.entries({ ...settings, port: String(port) }).map(([k, v]) => confLine(k, v));
      writeFileSync(join(dataDir, 'pgvault-test.conf'), `${conf.join('\n')}\n`);
      giveToServerUser(join(dataDir, 'pgvault-test.conf'));
      const start = await run(join(binDir, 'pg_ctl'), ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-s']);
      if (start.code === 0) break;
      const log = tail(logFile);
      // Another process took the port between our probe and the server's bind: try another one.
      if (attempt < 5 && /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(log)) {
        continue;
      }
      throw new InternalErrorUnexpected(`PostgreSQL ${major} did not start on port ${port} (pg_ctl exit ${start.code})`, {
        hint: `See the server log ${logFile} (its tail is in details.log).`,
        details: { output: start.output.slice(-2000), log },
      });
    }

    const cluster = new RunningCluster(major, binDir, dataDir, socketDir, logFile, port, password, reg);
    const [row] = await cluster.query<{ server_version: string; num: string }>(
      "SELECT current_setting('server_version') AS server_version, current_setting('server_version_num') AS num",
    );
    cluster.version = (row?.server_version ?? '').split(' ')[0] ?? '';
    cluster.versionNum = Number(row?.num ?? 0);
    return cluster;
  } catch (err) {
    stopSync(reg);
    running.delete(baseDir);
    throw err;
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

class RunningCluster implements PgCluster {
  readonly host = '127.0.0.1';
  readonly superuser = 'postgres';
  version = '';
  versionNum = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly major: PgMajor,
    readonly binDir: string,
    readonly dataDir: string,
    readonly socketDir: string,
    readonly logFile: string,
    readonly port: number,
    readonly password: string,
    private readonly reg: Registered,
  ) {}

  url(database = 'postgres', user = this.superuser, password = this.password): string {
    const auth = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
    return `postgresql://${auth}@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  async connect(database = 'postgres', user = this.superuser, password = this.password): Promise<pg.Client> {
    const client = new pg.Client({ host: this.host, port: this.port, user, password, database });
    // An idle client whose server goes away emits 'error'; the caller sees it on its next query instead.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]> {
    const client = await this.connect(database);
    try {
      const res = await client.query(sql, params);
      // A multi-statement text query returns one result per statement: give the last one's rows.
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      return (last?.rows ?? []) as T[];
    } finally {
      await client.end();
    }
  }

  async createRole(name: string, password: string, attrs = 'LOGIN'): Promise<void> {
    if (!/^[A-Za-z0-9_ ,"]*$/.test(attrs)) {
      throw new UserErrorInvalidInput(`role attributes "${attrs}" contain characters other than words and quoted names`, {
        hint: "Pass attributes such as 'LOGIN CREATEDB' or 'NOLOGIN IN ROLE \"app\"'.",
      });
    }
    await this.query(`CREATE ROLE ${quoteIdent(name)} WITH ${attrs} PASSWORD ${quoteLiteral(password)}`);
  }

  async createDatabase(name: string, owner?: string, opts: { template?: string } = {}): Promise<void> {
    const parts = [`CREATE DATABASE ${quoteIdent(name)}`];
    if (owner !== undefined) parts.push(`OWNER ${quoteIdent(owner)}`);
    if (opts.template !== undefined) parts.push(`TEMPLATE ${quoteIdent(opts.template)}`);
    await this.query(parts.join(' '));
  }

  async dropDatabase(name: string): Promise<void> {
    await this.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await this.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (existsSync(join(this.dataDir, 'postmaster.pid'))) {
        const res = await run(join(this.binDir, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '30', '-s']);
        if (res.code !== 0) stopSync(this.reg); // fall back to an immediate stop
      }
      rmSync(this.reg.baseDir, { recursive: true, force: true });
      running.delete(this.reg.baseDir);
    })();
    return this.stopping;
  }
}
