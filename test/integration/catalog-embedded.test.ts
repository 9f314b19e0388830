/** The embedded catalog: PGlite in <dataDir>/catalog survives restarts, and its lock file lets exactly one
 *  process open it — a second process (a real child process) gets UserErrorCatalogLocked, while a lock left by
 *  a SIGKILLed process is detected as stale and taken over. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedCatalogPaths, openCatalog, UserErrorCatalogLocked, type Catalog } from '../../src/catalog/index.ts';
import { ManualClock } from '../../src/lib/index.ts';

const catalogModule = fileURLToPath(new URL('../../src/catalog/index.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
const open: Catalog[] = [];
const children: number[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pgvault-catalog-e-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const c of open) await c.close();
  for (const pid of children) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A child process that opens the catalog, prints a line, and then either closes or waits to be killed. */
const childScript = `
const { openCatalog } = await import(process.env.CAT_MODULE);
try {
  const c = await openCatalog({ kind: 'embedded', dataDir: process.env.CAT_DIR });
  if (process.env.CAT_HOLD) {
    await c.vaults.create({ name: 'from-child', storageUrl: 'file:///srv/child', keyReference: 'env:K' });
    console.log('holding');
    setInterval(() => {}, 1000);
  } else {
    console.log('opened');
    await c.close();
  }
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint }));
}`;

function childEnv(dataDir: string, hold: boolean): NodeJS.ProcessEnv {
  return { ...process.env, CAT_MODULE: catalogModule, CAT_DIR: dataDir, ...(hold ? { CAT_HOLD: '1' } : {}) };
}

function runChild(dataDir: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', childScript], {
    cwd: repoRoot, env: childEnv(dataDir, false), encoding: 'utf8', timeout: 120_000,
  });
  return r.stdout.trim();
}

describe('embedded catalog', () => {
  it('keeps its data across a restart and does not re-run migrations', async () => {
    const dataDir = tempDir();
    const clock = new ManualClock('2026-05-01T00:00:00Z');
    const first = await openCatalog({ kind: 'embedded', dataDir }, { clock });
    const v = await first.vaults.create({ name: 'kept', storageUrl: 'file:///srv/kept', keyReference: 'secret:kept' });
    await first.close();
    await first.close(); // idempotent
    expect(existsSync(embeddedCatalogPaths(dataDir).lockFile)).toBe(false);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(embeddedCatalogPaths(dataDir).dir).mode & 0o077).toBe(0);

    const second = await openCatalog({ kind: 'embedded', dataDir }, { clock });
    open.push(second);
    expect(await second.vaults.get('kept')).toEqual(v);
    const applied = await second.executor.query<{ n: number }>('SELECT count(*)::int AS n FROM pgvault.schema_migrations');
    expect(applied[0]!.n).toBe(second.schemaVersion);
  });

  it('refuses a second opener in another process with UserErrorCatalogLocked, and in this process too', async () => {
    const dataDir = tempDir();
    const holder = await openCatalog({ kind: 'embedded', dataDir });
    open.push(holder);
    const out = JSON.parse(runChild(dataDir)) as { code: string; message: string; hint: string };
    expect(out.code).toBe('UserErrorCatalogLocked');
    expect(out.message).toContain(`process ${process.pid}`);
    expect(out.hint).toMatch(/--catalog URL/);
    await expect(openCatalog({ kind: 'embedded', dataDir })).rejects.toBeInstanceOf(UserErrorCatalogLocked);
    // The refused openers did not disturb the holder.
    await holder.vaults.create({ name: 'still-mine', storageUrl: 'file:///srv/x', keyReference: 'env:K' });
    await holder.close();
    expect(runChild(dataDir)).toBe('opened');
  });

  it('takes over the lock of a process that was SIGKILLed, and keeps what that process committed', async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', childScript], {
      cwd: repoRoot, env: childEnv(dataDir, true), stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child.pid!);
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('\n')) resolve(buf.trim()); });
      child.on('exit', (code) => reject(new Error(`child exited ${code} before holding the lock: ${buf}`)));
    });
    expect(line).toBe('holding');
    const lockFile = embeddedCatalogPaths(dataDir).lockFile;
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(child.pid);
    await expect(openCatalog({ kind: 'embedded', dataDir })).rejects.toBeInstanceOf(UserErrorCatalogLocked);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(lockFile)).toBe(true); // the dead process could not clean up
    const next = await openCatalog({ kind: 'embedded', dataDir });
    open.push(next);
    expect((await next.vaults.get('from-child')).storageUrl).toBe('file:///srv/child');
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
  });

  it('treats a lock whose pid was reused by another process as stale, and a foreign host\'s lock as held', async () => {
    const dataDir = tempDir();
    const lockFile = embeddedCatalogPaths(dataDir).lockFile;
    // Our own pid with another start time: the pid was reused since the lock was written.
    writeFileSync(join(dataDir, 'catalog.lock'), JSON.stringify({ pid: process.pid, host: hostname(), startTicks: '1' }));
    const c = await openCatalog({ kind: 'embedded', dataDir });
    await c.close();
    expect(existsSync(lockFile)).toBe(false);
    // Another host: pgvault cannot tell whether that process lives, so it refuses.
    writeFileSync(lockFile, JSON.stringify({ pid: 1, host: `not-${hostname()}`, startTicks: null }));
    const err = await openCatalog({ kind: 'embedded', dataDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorCatalogLocked);
    expect((err as UserErrorCatalogLocked).message).toContain(`not-${hostname()}`);
    // An empty lock file: fresh means another opener is writing it (refuse); old means a crash left it (take over).
    writeFileSync(lockFile, '');
    await expect(openCatalog({ kind: 'embedded', dataDir })).rejects.toBeInstanceOf(UserErrorCatalogLocked);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockFile, old, old);
    const taken = await openCatalog({ kind: 'embedded', dataDir });
    await taken.close();
  });

  it('hands pg-boss the same embedded database', async () => {
    const c = open[0]!;
    const opts = c.pgBossOptions();
    expect(opts.backend).toBe('pglite');
    await opts.db!.executeSql('CREATE TABLE IF NOT EXISTS public.boss_probe (x int)');
    await opts.db!.executeSql('INSERT INTO public.boss_probe VALUES ($1)', [7]);
    const rows = await c.executor.query<{ x: number }>('SELECT x FROM public.boss_probe');
    expect(rows).toEqual([{ x: 7 }]);
  });
});
