/** Private libpq password files: one per tool run, mode 0600 in a 0700 directory named after the owning process,
 *  removed when the run ends, at process exit, and (for a process that was SIGKILLed) by the next process that
 *  creates one. The only place a password is written to disk; it must never write one anywhere else. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const prefix = 'pgvault-pgpass-';
const live = new Set<string>();
let started = false;

/** Escapes a .pgpass field: backslash and colon are escaped with a backslash (libpq's rule). */
export function pgpassEscape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes password directories left by pgvault processes that no longer run. */
export function sweepStalePgpassDirs(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^pgvault-pgpass-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function startOnce(): void {
  if (started) return;
  started = true;
  sweepStalePgpassDirs();
  process.on('exit', () => {
    for (const d of live) rmSync(d, { recursive: true, force: true });
    live.clear();
  });
}

/** Writes `*:*:*:*:<password>` (any host, port, database and user: the conninfo fixes the server, and
 *  pg_dumpall and pg_restore -j open several sessions) to a fresh private file. */
export function createPgpassFile(password: string): { path: string; remove(): void } {
  startOnce();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}${process.pid}-`));
  live.add(dir);
  const path = join(dir, 'pgpass');
  writeFileSync(path, `*:*:*:*:${pgpassEscape(password)}\n`, { mode: 0o600 });
  return {
    path,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      live.delete(dir);
    },
  };
}
