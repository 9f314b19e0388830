/** The real-PostgreSQL harness itself: every major 13–17 starts fast on a loopback port with scram password auth,
 *  refuses a wrong password, keeps its socket dir private, and leaves nothing behind after stop(), after a test
 *  process that exits without stopping, and after one that is SIGKILLed. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allMajors, availableMajors, startCluster, sweepOrphanClusters, type PgCluster, type PgMajor } from '../support/index.ts';

const isRoot = process.getuid?.() === 0;

async function connectError(cluster: PgCluster, password: string): Promise<{ code?: string } | undefined> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.superuser, password, database: 'postgres' });
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return err as { code?: string };
  }
}

it('finds server binaries for all five majors on this machine', () => {
  expect(availableMajors()).toEqual([...allMajors]);
});

describe.each(allMajors)('PostgreSQL %i', (major: PgMajor) => {
  let cluster: PgCluster;
  let startMs = 0;

  beforeAll(async () => {
    const t0 = performance.now();
    cluster = await startCluster({ major });
    startMs = performance.now() - t0;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts in under 3 s (on an idle machine) and reports its own major version', async () => {
    // initdb is CPU-bound: on a machine shared with other test files the budget grows with the run queue.
    const budgetMs = 3000 * Math.max(1, loadavg()[0]! / availableParallelism());
    expect(startMs, `start took ${Math.round(startMs)} ms, budget ${Math.round(budgetMs)} ms`).toBeLessThan(budgetMs);
    expect(cluster.version).toMatch(new RegExp(`^${major}\\.\\d+$`));
    expect(Math.floor(cluster.versionNum / 10000)).toBe(major);
    const out = spawnSync(join(cluster.binDir, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout;
    expect(out).toContain(`(PostgreSQL) ${cluster.version}`);
    const [row] = await cluster.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    expect(Number(row?.v)).toBe(cluster.versionNum);
  });

  it('accepts the right password over TCP with scram-sha-256', async () => {
    expect(await connectError(cluster, cluster.password)).toBeUndefined();
    const [row] = await cluster.query<{ scram: boolean; ssl: boolean; addr: string }>(
      "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram, inet_client_addr()::text AS addr FROM pg_authid WHERE rolname = 'postgres'",
    );
    expect(row).toMatchObject({ scram: true, addr: '127.0.0.1/32' });
    const client = new pg.Client({ connectionString: cluster.url() });
    await client.connect();
    const res = await client.query<{ u: string }>('SELECT current_user AS u');
    await client.end();
    expect(res.rows[0]?.u).toBe('postgres');
  });

  it('refuses a wrong password with 28P01', async () => {
    const err = await connectError(cluster, `${cluster.password}x`);
    expect(err?.code).toBe('28P01');
  });

  it('creates roles that log in with their password and databases they own', async () => {
    await cluster.createRole('app user', 'p@ss w0rd', 'LOGIN CREATEDB');
    await cluster.createDatabase('app db', 'app user');
    const client = await cluster.connect('app db', 'app user', 'p@ss w0rd');
    const res = await client.query<{ u: string; d: string; owner: string }>(
      'SELECT current_user AS u, current_database() AS d, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()',
    );
    await client.end();
    expect(res.rows[0]).toEqual({ u: 'app user', d: 'app db', owner: 'app user' });
    const viaUrl = new pg.Client({ connectionString: cluster.url('app db', 'app user', 'p@ss w0rd') });
    await viaUrl.connect();
    await viaUrl.end();
    await expect(cluster.createRole('x', 'y', "LOGIN'; DROP ROLE postgres; --")).rejects.toMatchObject({ code: 'UserErrorInvalidInput' });
  });

  it('listens only on loopback and keeps its socket dir private', async () => {
    const [row] = await cluster.query<{ listen: string; sockets: string }>(
      "SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets",
    );
    expect(row).toEqual({ listen: '127.0.0.1', sockets: cluster.socketDir });
    const st = statSync(cluster.socketDir);
    expect(st.mode & 0o077).toBe(0);
    if (isRoot) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      expect(st.uid).toBe(uid);
      expect(statSync(cluster.dataDir).uid).toBe(uid);
    }
    expect(existsSync(join(cluster.socketDir, `.s.PGSQL.${cluster.port}`))).toBe(true);
  });

  it('stop() stops the server, removes its dirs and is idempotent', async () => {
    const dataDir = cluster.dataDir;
    await cluster.stop();
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(cluster.socketDir)).toBe(false);
    expect((await connectError(cluster, cluster.password))?.code).toBe('ECONNREFUSED');
    await cluster.stop();
  });
});

describe('settings and failures', () => {
  it('applies extra postgresql.conf settings', async () => {
    const c = await startCluster({ major: 16, settings: { max_connections: '17', 'pgvault.test_label': "it's here" } });
    try {
      const [row] = await c.query<{ max: string; label: string }>(
        "SELECT current_setting('max_connections') AS max, current_setting('pgvault.test_label') AS label",
      );
      expect(row).toEqual({ max: '17', label: "it's here" });
    } finally {
      await c.stop();
    }
  });

  it('fails to start with the server log in the error, and leaves no dir behind', async () => {
    const err = await startCluster({ major: 14, settings: { shared_buffers: 'plenty' } }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; hint?: string; details?: { log?: string } },
    );
    expect(err?.code).toBe('InternalErrorUnexpected');
    expect(err?.details?.log).toMatch(/invalid value for parameter "shared_buffers": "plenty"/);
    // The hint names the server log inside the cluster's dir, which is gone. (Not "no new pgvault-pg14-* dir": test
    // files running beside this one start PostgreSQL 14 clusters of their own.)
    const dir = new RegExp(`(${tmpdir().replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/pgvault-pg14-[^/]+)/`).exec(err?.hint ?? '')?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
  });

  it('refuses an unknown major and a malformed setting name with coded errors', async () => {
    await expect(startCluster({ major: 12 as PgMajor })).rejects.toMatchObject({ code: 'UserErrorInvalidInput' });
    await expect(startCluster({ major: 15, settings: { "x'; y": '1' } })).rejects.toMatchObject({ code: 'UserErrorInvalidInput' });
  });
});

describe('a test process that does not stop its server', () => {
  let scriptDir: string;
  beforeAll(() => {
    scriptDir = mkdtempSync(join(tmpdir(), 'pgvault-harness-child-'));
  });
  afterAll(() => {
    rmSync(scriptDir, { recursive: true, force: true });
  });

  /** Runs a child that starts a PostgreSQL 15 server, prints its port and data dir, then does `ending`. */
  function child(ending: string): Promise<{ port: number; dataDir: string; pid: number; code: number | null }> {
    const script = join(scriptDir, `child-${Math.random().toString(36).slice(2)}.mts`);
    writeFileSync(
      script,
      `import { startCluster } from ${JSON.stringify(join(import.meta.dirname, '..', 'support', 'index.ts'))};\n` +
        `const c = await startCluster({ major: 15 });\n` +
        `console.log(JSON.stringify({ port: c.port, dataDir: c.dataDir }));\n` +
        `${ending}\n`,
    );
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const signal = /SIGKILL|SIGTERM/.exec(ending)?.[0] as NodeJS.Signals | undefined;
        if (signal && out.includes('\n')) proc.kill(signal);
      });
      proc.on('error', reject);
      proc.on('close', (code) => {
        try {
          resolve({ ...(JSON.parse(out.trim().split('\n')[0] ?? '') as { port: number; dataDir: string }), pid: proc.pid ?? 0, code });
        } catch (err) {
          reject(new Error(`child printed no cluster: ${out}`, { cause: err }));
        }
      });
    });
  }

  async function refused(port: number): Promise<boolean> {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'x', database: 'postgres', connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return false;
    } catch (err) {
      return (err as { code?: string }).code === 'ECONNREFUSED';
    }
  }

  it('has its server stopped and removed when it exits with an error', async () => {
    const res = await child('process.exit(3);');
    expect(res.code).toBe(3);
    expect(existsSync(res.dataDir)).toBe(false);
    expect(await refused(res.port)).toBe(true);
  });

  it('has its server stopped and removed when it gets SIGTERM, and still dies of the signal', async () => {
    const res = await child('await new Promise(() => setInterval(() => undefined, 1000)); // wait for SIGTERM');
    expect(res.code).toBeNull();
    expect(existsSync(res.dataDir)).toBe(false);
    expect(await refused(res.port)).toBe(true);
  });

  it('when SIGKILLed, has its server stopped and removed by the next harness that starts', async () => {
    const res = await child('await new Promise(() => setInterval(() => undefined, 1000)); // wait for SIGKILL');
    expect(res.code).toBeNull();
    expect(existsSync(res.dataDir)).toBe(true);
    expect(await refused(res.port)).toBe(false);
    sweepOrphanClusters();
    expect(existsSync(res.dataDir)).toBe(false);
    expect(await refused(res.port)).toBe(true);
  });
});
