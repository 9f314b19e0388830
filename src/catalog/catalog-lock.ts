/** The exclusive lock on an embedded catalog directory: a lock file created with O_EXCL holding the owner's
 *  pid, host and process start time. PGlite has no lock between processes, so only the holder may open the
 *  data directory. A lock left by a dead process on this host is taken over; a live or foreign one refuses
 *  with UserErrorCatalogLocked. Never removes a lock that belongs to a live process. */
import { openSync, closeSync, writeSync, readFileSync, renameSync, statSync, unlinkSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { UserErrorCatalogLocked } from './catalog-errors.ts';

interface LockOwner {
  pid: number;
  host: string;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22); guards against pid reuse. */
  startTicks: string | null;
}

function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
  if (owner.startTicks === null) return true;
  const now = processStartTicks(owner.pid);
  return now === null || now === owner.startTicks;
}

function readOwner(path: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return null;
    return { pid: parsed.pid, host: parsed.host, startTicks: typeof parsed.startTicks === 'string' ? parsed.startTicks : null };
  } catch {
    return null;
  }
}

/** A lock file nobody could parse for this long is a leftover of a crash, not a lock being written. */
const unreadableLockStaleMs = 10_000;

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

export interface CatalogLock {
  readonly path: string;
  release(): void;
}

function lockedError(path: string, owner: LockOwner | null): UserErrorCatalogLocked {
  const who = owner ? `process ${owner.pid} on host "${owner.host}"` : 'another process';
  return new UserErrorCatalogLocked(`the embedded catalog is in use by ${who} (lock file "${path}")`, {
    hint: 'Only one pgvault process may open the embedded catalog: stop the other `pgvault serve`, or use the CLI '
      + 'against its API. To share a catalog between processes, use an external PostgreSQL (--catalog URL). If you '
      + 'are sure no process uses it, delete the lock file.',
    details: { lockFile: path, pid: owner?.pid ?? null, host: owner?.host ?? null },
  });
}

/** Takes the lock or throws UserErrorCatalogLocked. The lock is released by release() or at process exit. */
export function acquireCatalogLock(path: string): CatalogLock {
  const me: LockOwner = { pid: process.pid, host: hostname(), startTicks: processStartTicks(process.pid) };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readOwner(path);
      if (owner === null) {
        // Being written right now by another opener (refuse), or left empty by a crash between create and
        // write long ago (stale): the owner writes within microseconds of creating the file.
        if (!olderThan(path, unreadableLockStaleMs)) throw lockedError(path, null);
        try { renameSync(path, `${path}.stale-${process.pid}`); unlinkSync(`${path}.stale-${process.pid}`); } catch { /* raced */ }
        continue;
      }
      if (owner.host !== me.host || isAlive(owner)) throw lockedError(path, owner);
      // Stale: move it aside atomically, then make sure what we moved is the stale lock we judged.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // someone else took it over first; try again
      }
      const moved = readOwner(aside);
      if (moved && (moved.pid !== owner.pid || moved.startTicks !== owner.startTicks)) {
        // We moved a fresh lock of a process that won the race: put it back and refuse.
        try { renameSync(aside, path); } catch { /* it is gone: the next attempt decides */ }
        throw lockedError(path, moved);
      }
      try { unlinkSync(aside); } catch { /* already gone */ }
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      process.off('exit', release);
      const owner = readOwner(path);
      if (owner && owner.pid === me.pid && owner.startTicks === me.startTicks && existsSync(path)) {
        try { unlinkSync(path); } catch { /* already gone */ }
      }
    };
    process.on('exit', release);
    return { path, release };
  }
  throw lockedError(path, readOwner(path));
}
