/** pg_dump / pg_dumpall / pg_restore runners against a real PostgreSQL 15 with the real pg_dump 15: secrets kept
 *  out of argv and the environment, a hostile database name, progress, and every failure mapped to its code
 *  (auth, unknown database, SSL, lock timeout, connection cut mid-dump, cancellation); and the SQL session that
 *  builds a parallel restore's indexes and keys with pg_restore's session settings. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArchiveReader,
  connect,
  discoverClients,
  restoreSettings,
  RestoreSessionPool,
  RestoreSqlSession,
  sessionFits,
  truncatingCopy,
  parsePgUrl,
  pickClient,
  spawnPgDump,
  spawnPgDumpGlobals,
  spawnPgRestore,
  TransientErrorConnectionLost,
  UserErrorAuthenticationFailed,
  UserErrorDatabaseNotFound,
  UserErrorLockTimeout,
  UserErrorPgToolCancelled,
  UserErrorPgToolFailed,
  UserErrorSslUnavailable,
  type PgClient,
  type PgConnectionConfig,
  type TocEntry,
} from '../../src/postgres/index.ts';
import { startCluster, type PgCluster } from '../support/pg-cluster.ts';

let cluster: PgCluster;
let pgDump: PgClient;
let pgDumpall: PgClient;
let pgRestore: PgClient;
let dumper: PgConnectionConfig;
// Colon and backslash must survive the password file's escaping; quotes and spaces must not split anything.
const dumperPassword = `Pw:runner\\s' "x@y`;
const hostileName = 'host=127.0.0.2 dbname=x';

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function backends(appName: string): Promise<number> {
  const rows = await cluster.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [appName]);
  return Number(rows[0]?.n ?? 0);
}

function withOptions(cfg: PgConnectionConfig, options: Record<string, string>): PgConnectionConfig {
  return { ...cfg, options: { ...cfg.options, ...options } };
}

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  const clients = await discoverClients();
  pgDump = pickClient(clients, 'pg_dump', 15);
  pgDumpall = pickClient(clients, 'pg_dumpall', 15);
  pgRestore = pickClient(clients, 'pg_restore', 15);
  await cluster.createRole('dumper', dumperPassword, 'LOGIN');
  await cluster.query('GRANT pg_read_all_data TO dumper');
  await cluster.createDatabase('app');
  // a_big comes first in the dump and is larger than every pipe and socket buffer on the way, so a reader that
  // stops reading holds pg_dump in the middle of it; b_small guarantees work after it.
  await cluster.query(
    `CREATE TABLE a_big (id int PRIMARY KEY, pad text);
     INSERT INTO a_big SELECT g, md5(g::text) || repeat('x', 400) FROM generate_series(1, 40000) g;
     CREATE TABLE b_small (id serial PRIMARY KEY, note text);
     INSERT INTO b_small (note) VALUES ('one'), ('two');
     DO $$ DECLARE o oid; BEGIN
       o := lo_from_bytea(0, 'large object bytes');
       EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO dumper', o);
     END $$;`,
    [],
    'app',
  );
  await cluster.createDatabase(hostileName);
  await cluster.query("CREATE TABLE right_server_marker (v text); INSERT INTO right_server_marker VALUES ('from the configured host')", [], hostileName);
  dumper = { ...parsePgUrl(cluster.url('app', 'dumper', dumperPassword)), options: { application_name: 'pgvault-runner-test' } };
});

afterAll(async () => {
  await cluster?.stop();
});

describe('spawnPgDump', () => {
  it('streams a custom-format archive, with no password in argv or environment, progress per table, redacted log', async () => {
    const seen: { bytes: number; currentTable?: string }[] = [];
    const proc = spawnPgDump(withOptions(dumper, { application_name: 'pgvault-argv-test' }), { client: pgDump, onProgress: (p) => seen.push(p) });
    // Unread stdout holds pg_dump inside a_big: inspect the live process.
    await waitFor('pg_dump to reach a_big', () => seen.some((p) => p.currentTable === 'public.a_big'));
    const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${proc.pid}/environ`, 'utf8');
    expect(cmdline).toContain('--format=custom');
    expect(cmdline).toContain('--compress=0');
    for (const text of [cmdline, environ]) {
      expect(text).not.toContain(dumperPassword);
      expect(text).not.toContain('runner');
      expect(text).not.toMatch(/PGPASSWORD/);
    }
    const passfile = /PGPASSFILE=([^\0]+)/.exec(environ)?.[1];
    expect(passfile).toBeDefined();
    expect(existsSync(passfile as string)).toBe(true);
    const [archive, result] = await Promise.all([readAll(proc.stdout), proc.done]);
    expect(archive.subarray(0, 5).toString()).toBe('PGDMP');
    expect(result.exitCode).toBe(0);
    expect(result.bytes).toBe(archive.length);
    expect(seen.at(-1)?.bytes).toBe(archive.length);
    expect(seen.map((p) => p.currentTable)).toContain('public.b_small');
    expect(existsSync(passfile as string)).toBe(false);
    expect(proc.log.some((l) => l.includes('dumping contents of table "public.a_big"'))).toBe(true);
    expect(proc.log.join('\n')).not.toContain(dumperPassword);
  });

  it(`dumps a database literally named "${hostileName}" from the configured host`, async () => {
    const proc = spawnPgDump(dumper, { client: pgDump, database: hostileName });
    const [archive] = await Promise.all([readAll(proc.stdout), proc.done]);
    expect(archive.toString('latin1')).toContain('right_server_marker');
    expect(archive.toString('latin1')).toContain('from the configured host');
    // The name went to pg_dump only as a quoted conninfo value.
    expect(proc.log.join('\n')).not.toContain('127.0.0.2');
  });

  it('ignores the PG* environment of the parent (PGHOST, PGDATABASE, PGOPTIONS, PGSERVICE cannot redirect it)', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { PGHOST: '127.0.0.2', PGPORT: '1', PGDATABASE: 'no_such_db', PGUSER: 'nobody', PGOPTIONS: '-c statement_timeout=1', PGSERVICE: 'nowhere', PGSSLMODE: 'require' });
    try {
      const proc = spawnPgDump(dumper, { client: pgDump });
      const [archive] = await Promise.all([readAll(proc.stdout), proc.done]);
      expect(archive.toString('latin1')).toContain('b_small');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('redacts a registered secret wherever it shows in the log', async () => {
    await cluster.createRole('leaky', 'LeakyPass42', 'LOGIN SUPERUSER');
    await cluster.createDatabase('leakdb');
    await cluster.query('CREATE TABLE "t_LeakyPass42" (v int)', [], 'leakdb');
    const proc = spawnPgDump(parsePgUrl(cluster.url('leakdb', 'leaky', 'LeakyPass42')), { client: pgDump });
    await Promise.all([readAll(proc.stdout), proc.done]);
    expect(proc.log).toContain('pg_dump: dumping contents of table "public.t_[redacted]"');
    expect(proc.log.join('\n')).not.toContain('LeakyPass42');
  });

  it('maps a wrong password to UserErrorAuthenticationFailed without echoing it', async () => {
    const wrong = { ...dumper, password: 'not-the-right-one-42' };
    const proc = spawnPgDump(wrong, { client: pgDump });
    const err = await proc.done.catch((e: unknown) => e);
    await readAll(proc.stdout).catch(() => undefined);
    expect(err).toBeInstanceOf(UserErrorAuthenticationFailed);
    expect(JSON.stringify((err as UserErrorAuthenticationFailed).toJSON())).not.toContain('not-the-right-one-42');
    expect((err as UserErrorAuthenticationFailed).hint).toMatch(/password/);
  });

  it('maps an unknown database to UserErrorDatabaseNotFound', async () => {
    const proc = spawnPgDump(dumper, { client: pgDump, database: 'no_such_db' });
    const err = await proc.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorDatabaseNotFound);
    expect((err as Error).message).toContain('"no_such_db"');
  });

  it('fails with UserErrorLockTimeout while another session holds an ACCESS EXCLUSIVE lock', async () => {
    const holder = await cluster.connect('app');
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE b_small IN ACCESS EXCLUSIVE MODE');
      const proc = spawnPgDump(dumper, { client: pgDump, lockWaitTimeoutMs: 300 });
      const [, err] = await Promise.all([readAll(proc.stdout).catch(() => undefined), proc.done.catch((e: unknown) => e)]);
      expect(err).toBeInstanceOf(UserErrorLockTimeout);
      expect((err as UserErrorLockTimeout).hint).toMatch(/lock/);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('maps a backend terminated mid-dump to TransientErrorConnectionLost', async () => {
    const app = 'pgvault-cut-test';
    let table: string | undefined;
    const proc = spawnPgDump(withOptions(dumper, { application_name: app }), { client: pgDump, onProgress: (p) => (table = p.currentTable) });
    await waitFor('pg_dump to reach a_big', () => table === 'public.a_big');
    const killed = await cluster.query<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(killed.map((r) => r.ok)).toEqual([true]);
    const [, err] = await Promise.all([readAll(proc.stdout).catch(() => undefined), proc.done.catch((e: unknown) => e)]);
    expect(err).toBeInstanceOf(TransientErrorConnectionLost);
    expect((err as TransientErrorConnectionLost).category).toBe('transient');
  });

  it('cancels through the signal: coded error, the child and its server session are gone', async () => {
    const app = 'pgvault-cancel-test';
    const ac = new AbortController();
    let table: string | undefined;
    const proc = spawnPgDump(withOptions(dumper, { application_name: app }), { client: pgDump, signal: ac.signal, onProgress: (p) => (table = p.currentTable) });
    await waitFor('pg_dump to reach a_big', () => table === 'public.a_big');
    expect(await backends(app)).toBe(1);
    ac.abort(new Error('job cancelled by the user'));
    const err = await proc.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorPgToolCancelled);
    expect(existsSync(`/proc/${proc.pid}`)).toBe(false);
    await waitFor('the server session to end', async () => (await backends(app)) === 0, 10_000);
  });
  it('a reader that abandons the stream stops pg_dump instead of leaving it blocked', async () => {
    let table: string | undefined;
    const proc = spawnPgDump(dumper, { client: pgDump, onProgress: (p) => (table = p.currentTable) });
    await waitFor('pg_dump to reach a_big', () => table === 'public.a_big');
    proc.stdout.destroy();
    const err = await proc.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorPgToolFailed);
    expect((err as Error).message).toContain('the reader of its output went away');
    expect(existsSync(`/proc/${proc.pid}`)).toBe(false);
  });
});

describe('connection options', () => {
  it('sslmode=require against a server without SSL fails with UserErrorSslUnavailable, in pg_dump and in connect()', async () => {
    const cfg = withOptions(dumper, { sslmode: 'require' });
    const proc = spawnPgDump(cfg, { client: pgDump });
    expect(await proc.done.catch((e: unknown) => e)).toBeInstanceOf(UserErrorSslUnavailable);
    expect(await connect(cfg).catch((e: unknown) => e)).toBeInstanceOf(UserErrorSslUnavailable);
    // The default (prefer) falls back to a plain connection, as libpq does.
    const c = await connect({ ...dumper, options: {} });
    await c.end();
  });

  it("keeps TCP keepalives on by default, as libpq does (keepalives=1), and off with keepalives=0", async () => {
    /** The kernel's timer on the client socket: 2 is the keepalive timer, 0 none (proc(5), /proc/net/tcp "tr"). */
    const timerOf = async (options: Record<string, string>): Promise<string | undefined> => {
      const c = await connect({ ...dumper, options });
      try {
        await c.query('SELECT 1');
        const local = `:${(c as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort.toString(16).toUpperCase().padStart(4, '0')}`;
        const remote = `:${dumper.port.toString(16).toUpperCase().padStart(4, '0')}`;
        const row = readFileSync('/proc/self/net/tcp', 'utf8')
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .find((f) => f[1]?.endsWith(local) && f[2]?.endsWith(remote));
        return row?.[5]?.split(':')[0];
      } finally {
        await c.end();
      }
    };
    expect(dumper.host).not.toMatch(/^\//);
    expect(await timerOf({})).toBe('02');
    expect(await timerOf({ keepalives: '0' })).toBe('00');
  });

  it('application_name from the URL shows in pg_stat_activity', async () => {
    const cfg = parsePgUrl(`${cluster.url('app', 'dumper', dumperPassword)}?application_name=pgvault-appname-test&connect_timeout=5`);
    const c = await connect(cfg);
    try {
      expect(await backends('pgvault-appname-test')).toBe(1);
    } finally {
      await c.end();
    }
  });
});

describe('spawnPgDumpGlobals and spawnPgRestore', () => {
  it('dumps the globals as SQL without role passwords, as a non-superuser', async () => {
    const proc = spawnPgDumpGlobals(dumper, { client: pgDumpall });
    const [sql] = await Promise.all([readAll(proc.stdout), proc.done]);
    const text = sql.toString('utf8');
    expect(text).toContain('CREATE ROLE dumper;');
    expect(text).toContain('GRANT pg_read_all_data TO dumper');
    expect(text).not.toMatch(/PASSWORD|SCRAM-SHA-256/);
  });

  it('restores an archive from stdin into a fresh database', async () => {
    const dump = spawnPgDump(dumper, { client: pgDump });
    const [archive] = await Promise.all([readAll(dump.stdout), dump.done]);
    await cluster.createDatabase('app_restored');
    const admin = parsePgUrl(cluster.url('app_restored'));
    const restore = spawnPgRestore(admin, { client: pgRestore });
    restore.stdin.end(archive);
    const result = await restore.done;
    expect(result.bytes).toBe(archive.length);
    const rows = await cluster.query<{ n: string; lo: string }>(
      'SELECT (SELECT count(*) FROM a_big) AS n, (SELECT convert_from(lo_get(oid), \'UTF8\') FROM pg_largeobject_metadata) AS lo',
      [],
      'app_restored',
    );
    expect(rows[0]).toEqual({ n: '40000', lo: 'large object bytes' });

    // The table of contents, without connecting: pg_restore stops reading after the TOC; a writer streaming the
    // whole archive in small chunks still finishes.
    const chunks = (): Readable => Readable.from((function* () {
      for (let i = 0; i < archive.length; i += 16_384) yield archive.subarray(i, i + 16_384);
    })());
    const toc = spawnPgRestore(admin, { client: pgRestore, mode: 'toc' });
    const [list] = await Promise.all([readAll(toc.stdout), toc.done, pipeline(chunks(), toc.stdin)]);
    expect(list.toString()).toMatch(/TABLE DATA public a_big /);

    // A restore that fails at once (wrong password) fails the writer's stream too, instead of leaving it waiting.
    const failing = spawnPgRestore({ ...admin, password: 'wrong-password-77' }, { client: pgRestore });
    const [fed, failed] = await Promise.all([pipeline(chunks(), failing.stdin).catch((e: unknown) => e), failing.done.catch((e: unknown) => e)]);
    expect(failed).toBeInstanceOf(UserErrorAuthenticationFailed);
    expect(fed).toBe(failed);
  });
});

describe('RestoreSqlSession', () => {
  let toc: TocEntry[];
  let settings: string;
  let owner: PgConnectionConfig;
  const keysAndIndexes = (): TocEntry[] => toc.filter((e) => e.desc === 'INDEX' || e.desc === 'CONSTRAINT');
  const fake = (desc: string, tag: string, defn: string, tablespace: string | null = ''): TocEntry => ({ ...keysAndIndexes()[0]!, desc, tag, namespace: 'public', defn, tablespace });
  /** The session's backend, found by the application_name each test gives it. */
  const backend = async (app: string, where = 'true'): Promise<boolean> =>
    (await cluster.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND ${where}`, [app]))[0]!.n === '1';
  const as = (app: string): PgConnectionConfig => withOptions(owner, { application_name: app });

  beforeAll(async () => {
    const dump = spawnPgDump(dumper, { client: pgDump });
    const [archive] = await Promise.all([readAll(dump.stdout), dump.done]);
    const reader = new ArchiveReader();
    reader.write(archive);
    reader.end();
    toc = [...reader.toc];
    // A role whose own lock_timeout would fail any wait: pg_restore's settings (lock_timeout = 0) must be in force.
    await cluster.createRole('impatient', 'impatient-pw-1', 'LOGIN');
    await cluster.query(`ALTER ROLE impatient SET lock_timeout = '1ms'`);
    await cluster.createDatabase('app_session', 'impatient');
    owner = parsePgUrl(cluster.url('app_session', 'impatient', 'impatient-pw-1'));
    const load = spawnPgRestore(owner, { client: pgRestore, section: ['pre-data', 'data'], noOwner: true });
    load.stdin.end(archive);
    await load.done;
    // The settings pg_restore sends before any entry, from the script it prints for an empty list.
    const dir = mkdtempSync(join(tmpdir(), 'pgvault-session-'));
    try {
      writeFileSync(join(dir, 'none.list'), '');
      const script = spawnPgRestore(owner, { client: pgRestore, mode: 'sql', list: join(dir, 'none.list') });
      script.stdin.end(archive);
      const [text] = await Promise.all([readAll(script.stdout), script.done]);
      settings = restoreSettings(text.toString());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the SET statements of a pg_restore script, without comments or psql meta-commands', () => {
    expect(settings).toMatch(/^SET statement_timeout = 0;$/m);
    expect(settings).toMatch(/^SET lock_timeout = 0;$/m);
    expect(settings).toMatch(/^SET client_encoding = 'UTF8';$/m);
    expect(settings).toMatch(/^SELECT pg_catalog\.set_config\('search_path', '', false\);$/m);
    expect(settings).not.toMatch(/\\|--/);
    expect(() => restoreSettings('--\n-- nothing here\n')).toThrow(UserErrorPgToolFailed);
  });

  it('is used only for UTF8 archives with a SEARCHPATH entry (else pg_restore re-encodes or sets search_path per entry)', () => {
    expect(sessionFits(toc)).toBe(true);
    const latin1 = toc.map((e) => (e.desc === 'ENCODING' ? { ...e, defn: "SET client_encoding = 'LATIN1';\n" } : e));
    expect(sessionFits(latin1)).toBe(false);
    expect(sessionFits(toc.filter((e) => e.desc !== 'SEARCHPATH'))).toBe(false);
  });

  it("builds an archive's keys and indexes over one connection, waiting for locks as pg_restore does", async () => {
    const app = 'pgvault-session-build';
    const session = await RestoreSqlSession.open(as(app), settings);
    const locker = await connect(parsePgUrl(cluster.url('app_session')));
    try {
      await locker.query('BEGIN; LOCK TABLE public.a_big IN ROW EXCLUSIVE MODE');
      const first = keysAndIndexes().find((e) => e.tag === 'a_big a_big_pkey')!;
      const rest = keysAndIndexes().filter((e) => e !== first);
      let settled = false;
      const building = session.run(first).finally(() => (settled = true));
      await waitFor('the key to wait for the lock', () => backend(app, `wait_event_type = 'Lock'`));
      await new Promise((r) => setTimeout(r, 100));
      expect(settled).toBe(false); // still waiting, not failed after the role's 1 ms
      await locker.query('COMMIT');
      await building;
      for (const e of rest) await session.run(e);
    } finally {
      await locker.end();
      await session.close();
    }
    const defs = async (db: string): Promise<string[]> =>
      (await cluster.query<{ d: string }>(`SELECT indexdef AS d FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`, [], db)).map((r) => r.d);
    expect(await defs('app_session')).toEqual(await defs('app'));
    expect(await defs('app_session')).toHaveLength(2);

    // Without those settings the role's lock_timeout applies: the same wait fails, mapped to its code.
    const bare = await RestoreSqlSession.open(owner, '');
    const again = await connect(parsePgUrl(cluster.url('app_session')));
    try {
      await again.query('BEGIN; LOCK TABLE public.a_big IN ROW EXCLUSIVE MODE');
      const err = await bare.run(fake('INDEX', 'a_big_pad', 'CREATE INDEX a_big_pad ON public.a_big (pad);')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserErrorLockTimeout);
    } finally {
      await again.query('ROLLBACK');
      await again.end();
      await bare.close();
    }
  });

  it('fails an entry with the coded error pg_restore would give, naming the entry or its tablespace', async () => {
    const session = await RestoreSqlSession.open(owner, settings);
    try {
      const err = await session.run(fake('INDEX', 'nope_idx', 'CREATE INDEX nope_idx ON public.nope (id);')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserErrorPgToolFailed);
      expect((err as Error).message).toContain('INDEX "public.nope_idx"');
      expect((err as Error).message).toContain('relation "public.nope" does not exist');
      expect((err as UserErrorPgToolFailed).details).toMatchObject({ sqlstate: '42P01', errors: ['ERROR:  relation "public.nope" does not exist'] });
      expect((err as UserErrorPgToolFailed).hint).toBeTruthy();
      // An entry's tablespace is set before its definition runs.
      const elsewhere = await session.run(fake('INDEX', 'b_small_note', 'CREATE INDEX b_small_note ON public.b_small (note);', 'nowhere')).catch((e: unknown) => e);
      expect(elsewhere).toBeInstanceOf(UserErrorPgToolFailed);
      expect((elsewhere as Error).message).toMatch(/tablespace "nowhere" does not exist|invalid value for parameter "default_tablespace"/);
      expect(await cluster.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'b_small_note'`, [], 'app_session')).toEqual([]);
      // Only indexes and constraints: other entries need what pg_restore does around them (owners, ACLs, data).
      await expect(session.run(fake('TABLE', 't', 'CREATE TABLE public.t (x int);'))).rejects.toBeInstanceOf(UserErrorPgToolFailed);
    } finally {
      await session.close();
    }
  });

  it("passes the server's warnings to the log, and no notices (pg_restore's client_min_messages = warning)", async () => {
    const lines: string[] = [];
    const session = await RestoreSqlSession.open(owner, settings, (l) => lines.push(l));
    try {
      await session.run(fake('INDEX', 'loud', `DO $$ BEGIN RAISE NOTICE 'quiet one'; RAISE WARNING 'careful here'; END $$;`));
    } finally {
      await session.close();
    }
    expect(lines).toEqual(['pgvault: creating INDEX "public.loud"', 'pgvault: WARNING:  careful here']);
  });

  it('pools sessions within the connection bound: reuses idle ones, closes one for a data run, replaces a dead one', async () => {
    const app = 'pgvault-session-pool';
    const opened: RestoreSqlSession[] = [];
    const pool = new RestoreSessionPool(async () => {
      const s = await RestoreSqlSession.open(as(app), settings);
      opened.push(s);
      return s;
    }, 3); // -j2: two workers and the leader's share
    try {
      const [a, b] = [await pool.take(), await pool.take()];
      expect(a).not.toBe(b);
      pool.give(a);
      expect(await pool.take()).toBe(a); // reused, not reopened
      pool.give(a);
      pool.give(b);
      await pool.loadingStarts(); // 2 sessions + 1 data run: within 3
      expect(pool.size).toBe(2);
      await pool.loadingStarts(); // 2 + 2 would pass it: one idle session is closed first
      expect(pool.size).toBe(1);
      await waitFor('one session on the server', async () => (await backends(app)) === 1);
      pool.loadingEnds();
      pool.loadingEnds();
      // The survivor is ended by the server while idle: the next take opens another instead of failing.
      await cluster.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
      await waitFor('the pool to see it gone', () => opened.every((s) => !s.usable));
      const fresh = await pool.take();
      expect(opened).toHaveLength(3);
      expect(fresh).toBe(opened[2]);
      await fresh.run(fake('INDEX', 'b_small_note_pool', 'CREATE INDEX b_small_note_pool ON public.b_small (note);'));
      pool.give(fresh);
    } finally {
      await pool.close();
    }
    await waitFor('no session left', async () => (await backends(app)) === 0);
  });

  it('counts a session still connecting against the bound (-j3: a data run then closes an idle session instead)', async () => {
    const app = 'pgvault-session-opening';
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    const pool = new RestoreSessionPool(async () => {
      const s = await RestoreSqlSession.open(as(app), settings);
      if (held) await gate; // connected, but the pool does not have it yet
      return s;
    }, 4); // -j3: three workers and the leader's share
    try {
      const [a, b, c] = [await pool.take(), await pool.take(), await pool.take()];
      held = true;
      const d = pool.take(); // a fourth post item: its session is being opened
      await waitFor('the fourth session to connect', async () => (await backends(app)) === 4);
      pool.give(a);
      // 3 sessions (one idle) + 1 opening + 1 data run would be 5 connections: the idle one goes first.
      await pool.loadingStarts();
      expect(pool.size).toBe(2);
      release();
      const fourth = await d;
      expect([a, b, c]).not.toContain(fourth);
      expect(pool.size).toBe(3);
      await waitFor('three sessions beside the data run', async () => (await backends(app)) === 3);
      pool.loadingEnds();
      for (const s of [b, c, fourth]) pool.give(s);
    } finally {
      release();
      await pool.close();
    }
    await waitFor('no session left', async () => (await backends(app)) === 0);
  });

  it('maps a backend terminated mid-entry, or while idle, to TransientErrorConnectionLost', async () => {
    const slow = fake('INDEX', 'slow', 'SELECT pg_sleep(30);');
    const app = 'pgvault-session-cut';
    const session = await RestoreSqlSession.open(as(app), settings);
    const running = session.run(slow).catch((e: unknown) => e);
    await waitFor('the entry to run', () => backend(app, `query LIKE 'SELECT pg_sleep%'`));
    await cluster.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(await running).toBeInstanceOf(TransientErrorConnectionLost);
    await session.close();

    const idleApp = 'pgvault-session-idle';
    const idle = await RestoreSqlSession.open(as(idleApp), settings);
    expect(idle.usable).toBe(true);
    await cluster.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [idleApp]);
    await waitFor('the session to notice', () => !idle.usable);
    await expect(idle.run(slow)).rejects.toBeInstanceOf(TransientErrorConnectionLost);
    await idle.close();
  });

  describe('copy', () => {
    /** A TABLE DATA entry of a table made for each test, and a CopyData message of rows. */
    const tableData = async (name: string): Promise<TocEntry> => {
      await cluster.query(`CREATE TABLE ${name} (id int, v text); ALTER TABLE ${name} OWNER TO impatient`, [], 'app_session');
      return { ...keysAndIndexes()[0]!, desc: 'TABLE DATA', tag: name, namespace: 'public', defn: '', copyStmt: `COPY public.${name} (id, v) FROM stdin;\n`, tablespace: null };
    };
    const message = (rows: string): Buffer => {
      const body = Buffer.from(rows);
      const b = Buffer.alloc(5 + body.length);
      b[0] = 0x64;
      b.writeUInt32BE(4 + body.length, 1);
      body.copy(b, 5);
      return b;
    };
    const rowsOf = async (name: string): Promise<string[]> =>
      (await cluster.query<{ r: string }>(`SELECT id || ':' || v AS r FROM ${name} ORDER BY id`, [], 'app_session')).map((x) => x.r);

    it('loads the rows sent as CopyData, and a vault read failing mid-load rolls the load back and is what it throws', async () => {
      const entry = await tableData('copied');
      const session = await RestoreSqlSession.open(as('pgvault-session-copy'), settings);
      const sent = [message('1\tone\n2\tt'), message('wo\n'), message('3\tthree\n\\.\n\n\n')];
      let k = 0;
      const bytes = await session.copy(entry, truncatingCopy(entry)!, async () => sent[k++]);
      expect(bytes).toBe(sent.reduce((n, b) => n + b.length - 5, 0));
      expect(await rowsOf('copied')).toEqual(['1:one', '2:two', '3:three']);

      const readFailed = new Error('chunk 17 does not match its id');
      const failing = [message('4\tfour\n')];
      let j = 0;
      const err = await session
        .copy(entry, entry.copyStmt!, async () => {
          if (j < failing.length) return failing[j++];
          throw readFailed;
        })
        .catch((e: unknown) => e);
      expect(err).toBe(readFailed);
      expect(await rowsOf('copied')).toEqual(['1:one', '2:two', '3:three']); // the row sent before the failure: rolled back
      // The session is idle again and takes the next load (TRUNCATE, then COPY FREEZE, in one implicit transaction).
      expect(session.usable).toBe(true);
      k = 0;
      await session.copy(entry, truncatingCopy(entry)!, async () => sent[k++]);
      expect(await rowsOf('copied')).toEqual(['1:one', '2:two', '3:three']);
      await session.close();
    });

    it("stops writing at the server's error: the coded error with the row, and the source is not read to its end", async () => {
      const entry = await tableData('refusing');
      const session = await RestoreSqlSession.open(as('pgvault-session-copy-bad'), settings);
      let reads = 0;
      // An endless source: the load must stop at the error, not read on.
      const err = await session
        .copy(entry, entry.copyStmt!, async () => {
          reads++;
          return message(reads === 2 ? 'not-a-number\tx\n' : `${reads}\tok\n`);
        })
        .then(
          () => undefined,
          (e: unknown) => e as { code?: string; message: string; details?: { sqlstate?: string; errors?: string[] } },
        );
      expect(err?.code).toBe('UserErrorPgToolFailed');
      expect(err?.message).toContain('TABLE DATA "public.refusing"');
      expect(err?.details?.sqlstate).toBe('22P02');
      expect(err?.details?.errors).toContain('CONTEXT:  COPY refusing, line 2, column id: "not-a-number"');
      // (one read may have been under way when the error came)
      const after = reads;
      await new Promise((r) => setTimeout(r, 200));
      expect(reads - after).toBeLessThanOrEqual(1);
      expect(reads).toBeLessThan(5000);
      expect(await rowsOf('refusing')).toEqual([]);
      expect(session.usable).toBe(true);
      await session.close();
    });

    it('cancels a load while its rows are still being sent: nothing kept, the backend gone', async () => {
      const entry = await tableData('cancelled');
      const app = 'pgvault-session-copy-cancel';
      const session = await RestoreSqlSession.open(as(app), settings);
      const ac = new AbortController();
      let reads = 0;
      const loading = session
        .copy(entry, truncatingCopy(entry)!, async () => {
          await new Promise((r) => setTimeout(r, 5));
          return message(`${++reads}\trow\n`);
        }, { signal: ac.signal })
        .catch((e: unknown) => e);
      await waitFor('rows to flow', () => reads > 20);
      expect(await backend(app, `query LIKE 'TRUNCATE%'`)).toBe(true);
      ac.abort(new Error('job cancelled by the user'));
      expect(await loading).toBeInstanceOf(UserErrorPgToolCancelled);
      await waitFor('the server session to end', async () => (await backends(app)) === 0, 10_000);
      expect(await rowsOf('cancelled')).toEqual([]);
      expect(session.usable).toBe(false);
    });
  });

  it('cancels the running statement on the server when the signal aborts', async () => {
    const slow = fake('INDEX', 'slow', 'SELECT pg_sleep(30);');
    const app = 'pgvault-session-cancel';
    const ac = new AbortController();
    const session = await RestoreSqlSession.open(as(app), settings);
    const started = Date.now();
    const cancelled = session.run(slow, ac.signal).catch((e: unknown) => e);
    await waitFor('the entry to run', () => backend(app, `query LIKE 'SELECT pg_sleep%'`));
    ac.abort(new Error('job cancelled by the user'));
    expect(await cancelled).toBeInstanceOf(UserErrorPgToolCancelled);
    await waitFor('the server session to end', async () => (await backends(app)) === 0, 10_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(session.usable).toBe(false);
    await expect(session.run(slow, ac.signal)).rejects.toBeInstanceOf(UserErrorPgToolCancelled);
  });
});
