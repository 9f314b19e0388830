/** Put-if-absent for a file where link(2) cannot do it (exFAT, FAT: a USB disk, some SMB and FUSE mounts): a
 *  rename under a lock on the name. Used by the filesystem storage driver and by restore-files. */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Names of in-flight writes and of name locks start with this: the filesystem driver lists neither. */
export const tempFilePrefix = '.pgvault-tmp.';

/** Whether link(2) failed because the filesystem has no hard links (exFAT, FAT, some SMB and FUSE mounts). */
export function noHardLinks(err: unknown): boolean {
  return ['EPERM', 'EOPNOTSUPP', 'ENOTSUP', 'ENOSYS', 'EMLINK'].includes(code(err) ?? '');
}

/** The lock directory that a rename-if-absent holds on `target`'s name, beside it. Hashed: the name may already be
 *  as long as the filesystem allows; upper-cased: on a filesystem blind to case "A" and "a" are one name. */
export function nameLockPath(target: string): string {
  return join(dirname(target), `${tempFilePrefix}lock.${createHash('sha256').update(basename(target).toUpperCase()).digest('hex').slice(0, 32)}`);
}

/** A name lock is held around one lstat and one rename. One that stays this long, unchanged, was left by a process
 *  that died holding it: a waiter then breaks it. */
export const deadNameLockMs = 10_000;

/** Renames `tmp` onto `target` unless `target` exists: put-if-absent for filesystems without hard links (exFAT, FAT:
 *  a USB disk), where link(2) cannot do it. The name is locked (mkdir(2) of a hidden directory beside it, atomic
 *  everywhere) around the check and the rename, so two of these never both rename onto one name; readers never see
 *  a partial or empty file. Resolves false, leaving `tmp`, when `target` exists. A lock left by a process that died
 *  holding it is broken by the first waiter that sees it unchanged for deadNameLockMs; two waiters breaking the same
 *  dead lock in the same instant could still both win (it takes a crash inside the lock's microseconds first). */
export async function renameIfAbsent(tmp: string, target: string, deadLockMs = deadNameLockMs): Promise<boolean> {
  const lock = nameLockPath(target);
  let waited: { id: string; since: number } | undefined;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if (code(err) !== 'EEXIST') throw err;
    }
    if (await present(target)) return false;
    const id = await lockIdentity(lock);
    if (id === undefined) continue; // released meanwhile
    if (waited?.id !== id) waited = { id, since: Date.now() };
    if (Date.now() - waited.since < deadLockMs) {
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    // Moved aside first (atomic), then checked: a lock taken afresh in the meantime is put back, not removed.
    const aside = `${lock}.dead.${randomBytes(6).toString('hex')}`;
    if (await rename(lock, aside).then(() => true, () => false)) {
      if ((await lockIdentity(aside)) === id) await rmdir(aside).catch(() => undefined);
      else await rename(aside, lock).catch(() => rmdir(aside).catch(() => undefined));
    }
    waited = undefined;
  }
  try {
    if (await present(target)) return false;
    await rename(tmp, target);
    return true;
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

async function present(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: unknown) => (code(err) === 'ENOENT' ? false : Promise.reject(err)),
  );
}

/** Inode and modification time: a lock directory made afresh differs from the one it replaced in at least one. */
async function lockIdentity(lock: string): Promise<string | undefined> {
  const st = await stat(lock, { bigint: true }).catch(() => undefined);
  return st && `${st.ino}:${st.mtimeNs}`;
}

function code(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Whether a rename or link of `renamed`, or a recursive mkdir, failed because the filesystem refuses the name:
 *  exfat-fuse answers ENOENT for a rename to such a name although the directory and the file to rename are there;
 *  the kernel's exFAT and FAT answer EINVAL. */
export async function nameRefused(err: unknown, renamed?: string): Promise<boolean> {
  const c = code(err);
  if (c !== 'ENOENT' && c !== 'EINVAL') return false;
  const syscall = (err as { syscall?: string }).syscall;
  // A recursive mkdir of the key's directories (asked without `renamed`): only a name it cannot create is left.
  if (syscall === 'mkdir') return renamed === undefined;
  if (syscall !== 'rename' && syscall !== 'link') return false;
  return c === 'EINVAL' || (renamed !== undefined && (await present(renamed).catch(() => false)));
}
