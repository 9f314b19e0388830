/** The filesystem driver: one file per key under a root directory, keys' "/" mapping to subdirectories.
 *  Owns atomic, durable writes (temp file in the same directory, fsync, rename or link, fsync of the
 *  directory) and keeping every path inside the root. It must never expose a temp file as an object,
 *  never leave a partial object behind, and never resolve a key outside rootDir. */
import { randomBytes } from 'node:crypto';
import { constants, type Dir } from 'node:fs';
import { link, lstat, mkdir, open, opendir, realpath, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { deadNameLockMs, InternalErrorUnexpected, nameRefused, noHardLinks, PgvaultError, renameIfAbsent, tempFilePrefix } from '../../lib/index.ts';
import { allowSharedSignal, bodyChunks, isBodyError } from '../body-chunks.ts';
import {
  StorageErrorAlreadyExists,
  StorageErrorNotFound,
  TransientErrorStorageUnavailable,
  UserErrorInvalidStorageKey,
  UserErrorInvalidStorageUrl,
  UserErrorStorageAccessDenied,
} from '../errors.ts';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';
import { checkByteRange, parseStorageKey, parseStoragePrefix } from '../storage-key.ts';

/** Names of in-flight writes (and of renameIfAbsent's name locks) start with this; list() never yields them and
 *  keys may not use it. */
export { tempFilePrefix };

/** StorageBackend on a local (or mounted) filesystem.
 *  - put(): writes a temp file beside the target, fsyncs it, then rename(2)s it over the target, or for
 *    ifAbsent link(2)s it to the target, which fails atomically with EEXIST when the target exists (no
 *    check-then-rename race); then fsyncs the directory, and the parents of directories it created. A
 *    failed or aborted put removes its temp file; a killed one leaves it (see removeTempFiles).
 *  - Without hard links (exFAT, FAT: a USB disk), put ifAbsent renames under a lock on the name instead
 *    (renameIfAbsent). Readers never see a partial or empty object; racers still get exactly one winner.
 *  - A name the filesystem refuses (exFAT and FAT refuse \ : * ? " < > |) fails with UserErrorInvalidStorageKey.
 *  - A key maps to rootDir/<segments>; keys are checked by parseStorageKey, so no key can resolve outside
 *    rootDir. Segments starting with ".pgvault-tmp." are refused (that namespace belongs to temp files).
 *    Symbolic links planted inside the root are never followed out of it (UserErrorStorageAccessDenied).
 *  - A key cannot be both an object and a prefix of other objects ("a" and "a/b"), unlike in object stores;
 *    the vault never needs that, and such a put fails with UserErrorInvalidStorageKey.
 *  - The root directory is created by the first put(); list() of a missing root yields nothing. */
export class FilesystemBackend implements StorageBackend {
  readonly capabilities: StorageCapabilities = { atomicPutIfAbsent: true, immutability: false, rangedReads: true };
  readonly location: string;
  readonly rootDir: string;
  /** realpath(rootDir), learnt at the first check that needs it (the root may be a link itself: allowed). */
  #realRoot: string | undefined;
  /** Learnt at the first link(2) that the filesystem refuses. */
  #noHardLinks = false;
  readonly #deadNameLockMs: number;

  /** deadNameLockMs: see renameIfAbsent (tests shorten it). */
  constructor(rootDir: string, opts: { deadNameLockMs?: number } = {}) {
    this.#deadNameLockMs = opts.deadNameLockMs ?? deadNameLockMs;
    if (typeof rootDir !== 'string' || rootDir === '' || !isAbsolute(rootDir) || rootDir.includes('\0')) {
      throw new UserErrorInvalidStorageUrl(`filesystem storage root must be an absolute path, got ${JSON.stringify(rootDir)}`);
    }
    this.rootDir = resolve(rootDir);
    this.location = pathToFileURL(this.rootDir).href;
  }

  /** The absolute path of a key; throws for a key that breaks the key rules. */
  pathOf(key: string): string {
    const k = parseStorageKey(key);
    for (const seg of k.split('/')) {
      if (seg.startsWith(tempFilePrefix)) {
        throw new UserErrorInvalidStorageKey(`invalid storage key ${JSON.stringify(k)}: segments starting with "${tempFilePrefix}" are reserved for temp files`);
      }
    }
    const p = join(this.rootDir, ...k.split('/'));
    // Defence in depth: parseStorageKey already makes this impossible.
    if (!p.startsWith(this.rootDir + sep)) throw new UserErrorInvalidStorageKey(`storage key ${JSON.stringify(k)} resolves outside ${this.location}`);
    return p;
  }

  async put(key: StorageKey, body: Readable | Buffer, opts: PutOptions = {}): Promise<void> {
    const target = this.pathOf(key);
    const dir = dirname(target);
    const tmp = join(dir, `${tempFilePrefix}${randomBytes(12).toString('hex')}`);
    let fh: FileHandle | undefined;
    let tmpExists = false;
    try {
      await this.#assertInside(dir, key); // before mkdir, which would follow a planted link
      const firstCreated = await mkdir(dir, { recursive: true }).catch(async (err: unknown) => {
        if (code(err) === 'EEXIST' || code(err) === 'ENOTDIR') throw this.#objectInTheWay(key);
        if (await nameRefused(err)) throw this.#refusedName(key, err);
        throw err;
      });
      fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666);
      tmpExists = true;
      for await (const chunk of bodyChunks(body, opts.signal)) await writeAll(fh, chunk);
      await fh.sync();
      await fh.close();
      fh = undefined;
      let linked = false;
      if (opts.ifAbsent && !this.#noHardLinks) {
        try {
          await link(tmp, target);
          linked = true;
        } catch (err) {
          if (code(err) === 'EEXIST') throw new StorageErrorAlreadyExists(key, this.location);
          if (await nameRefused(err, tmp)) throw this.#refusedName(key, err);
          if (!noHardLinks(err)) throw err;
          this.#noHardLinks = true;
        }
      }
      const renamed = async (err: unknown): Promise<never> => {
        if (code(err) === 'EISDIR' || code(err) === 'ENOTEMPTY' || code(err) === 'EEXIST') throw this.#objectInTheWay(key);
        if (await nameRefused(err, tmp)) throw this.#refusedName(key, err);
        throw err;
      };
      if (linked) {
        await unlink(tmp);
        tmpExists = false;
      } else if (opts.ifAbsent) {
        if (!(await renameIfAbsent(tmp, target, this.#deadNameLockMs).catch(renamed))) throw new StorageErrorAlreadyExists(key, this.location);
        tmpExists = false;
      } else {
        await rename(tmp, target).catch(renamed);
        tmpExists = false;
      }
      await fsyncDir(dir);
      // Directories created for this put must be durable too: their entries live in their parents.
      if (firstCreated !== undefined) {
        for (let d = dir; d !== dirname(firstCreated); d = dirname(d)) await fsyncDir(dirname(d));
      }
    } catch (err) {
      await fh?.close().catch(() => undefined);
      if (tmpExists) await unlink(tmp).catch(() => undefined);
      throw this.#translate(err, key, 'put');
    }
  }

  #refusedName(key: string, cause: unknown): UserErrorInvalidStorageKey {
    return new UserErrorInvalidStorageKey(`cannot store "${key}" in ${this.location}: the filesystem refuses the name`, {
      hint: 'exFAT and FAT (USB disks, SD cards) and SMB shares refuse \\ : * ? " < > | in names (vault keys never hold them): choose another name or another filesystem.',
      cause,
    });
  }

  async get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const path = this.pathOf(key);
    checkByteRange(range);
    allowSharedSignal(signal);
    let fh: FileHandle;
    try {
      await this.#assertInside(dirname(path), key);
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (code(err) === 'ELOOP') throw this.#symlink(key);
      throw this.#translate(err, key, 'get');
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new StorageErrorNotFound(key, this.location);
      if (range && (range.length === 0 || range.offset >= st.size)) {
        await fh.close();
        return Readable.from([]);
      }
      const start = range?.offset ?? 0;
      const end = range ? Math.min(range.offset + range.length, st.size) - 1 : undefined;
      // The stream owns the handle from here and closes it on end, error or destroy (signal included).
      return fh.createReadStream({ start, end, autoClose: true, highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) });
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw this.#translate(err, key, 'get');
    }
  }

  async stat(key: StorageKey): Promise<ObjectStat> {
    const path = this.pathOf(key);
    try {
      await this.#assertInside(dirname(path), key);
      const st = await lstat(path);
      if (st.isSymbolicLink()) throw this.#symlink(key);
      if (!st.isFile()) throw new StorageErrorNotFound(key, this.location);
      return { sizeBytes: st.size, modifiedAt: st.mtime };
    } catch (err) {
      throw this.#translate(err, key, 'stat');
    }
  }

  /** Walks the directories under the prefix depth-first with opendir(3), one directory handle per level
   *  open at a time: memory grows with the depth, not with the number of keys. */
  async *list(prefix: string): AsyncIterable<StorageKey> {
    const p = parseStoragePrefix(prefix);
    const slash = p.lastIndexOf('/');
    const baseKey = slash < 0 ? '' : p.slice(0, slash); // the deepest directory the prefix fully names
    const namePrefix = p.slice(slash + 1);
    // Only the first directory can be reached through a link: the walk descends into real directories only
    // (a dirent of a symbolic link is neither a directory nor a file).
    try {
      await this.#assertInside(baseKey === '' ? this.rootDir : join(this.rootDir, ...baseKey.split('/')), p);
    } catch (err) {
      throw this.#translate(err, p, 'list');
    }
    yield* this.#walk(baseKey, namePrefix);
  }

  async *#walk(dirKey: string, namePrefix: string): AsyncGenerator<StorageKey> {
    const dirPath = dirKey === '' ? this.rootDir : join(this.rootDir, ...dirKey.split('/'));
    let dir: Dir;
    try {
      dir = await opendir(dirPath, { bufferSize: 64 });
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return;
      throw this.#translate(err, dirKey, 'list');
    }
    const subdirs: string[] = [];
    try {
      for await (const ent of dir) {
        if (ent.name.startsWith(tempFilePrefix) || !ent.name.startsWith(namePrefix)) continue;
        const key = dirKey === '' ? ent.name : `${dirKey}/${ent.name}`;
        if (ent.isDirectory()) subdirs.push(key);
        else if (ent.isFile()) yield key as StorageKey;
      }
    } catch (err) {
      throw this.#translate(err, dirKey, 'list');
    }
    // Subdirectory names only (not their contents) are held, after this directory's handle is closed.
    for (const sub of subdirs) yield* this.#walk(sub, '');
  }

  async delete(key: StorageKey): Promise<void> {
    const path = this.pathOf(key);
    try {
      await this.#assertInside(dirname(path), key);
      await unlink(path);
    } catch (err) {
      const c = code(err);
      // Missing, or a "directory" (a prefix, not an object): there is no object to delete.
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR') return;
      if (c === 'EPERM') {
        const st = await stat(path).catch(() => undefined);
        if (st?.isDirectory()) return;
      }
      throw this.#translate(err, key, 'delete');
    }
  }

  async close(): Promise<void> {}

  /** Removes temp files left by puts that died (kill -9, power loss) and were last modified before
   *  `olderThan`; returns how many it removed. Give a generous grace period: a live put's temp file is
   *  younger than its slowest body. Not part of StorageBackend: the filesystem alone leaves such debris. */
  async removeTempFiles(olderThan: Date): Promise<number> {
    let removed = 0;
    const dirs: string[] = [this.rootDir];
    while (dirs.length > 0) {
      const dirPath = dirs.pop()!;
      let dir: Dir;
      try {
        dir = await opendir(dirPath, { bufferSize: 64 });
      } catch (err) {
        if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') continue;
        throw this.#translate(err, dirPath, 'sweep');
      }
      for await (const ent of dir) {
        const p = join(dirPath, ent.name);
        if (ent.isDirectory() && ent.name.startsWith(tempFilePrefix)) {
          // A name lock left by a put ifAbsent that died holding it (filesystems without hard links).
          const st = await stat(p).catch(() => undefined);
          if (st && st.mtime < olderThan && (await rmdir(p).then(() => true, () => false))) removed++;
        } else if (ent.isDirectory()) dirs.push(p);
        else if (ent.isFile() && ent.name.startsWith(tempFilePrefix)) {
          const st = await stat(p).catch(() => undefined);
          if (st && st.mtime < olderThan) {
            await unlink(p).catch((err: unknown) => {
              if (code(err) !== 'ENOENT') throw this.#translate(err, p, 'sweep');
            });
            removed++;
          }
        }
      }
    }
    return removed;
  }

  /** Throws when the deepest existing directory on the way to `path` resolves, through a symbolic link
   *  planted in the tree, outside the root. Without openat(2) in Node a link swapped in after this check
   *  can still win a race; the check closes the standing hole (restore-as-files into a shared directory). */
  async #assertInside(path: string, key: string): Promise<void> {
    let p = path;
    let real: string | undefined;
    while (real === undefined) {
      try {
        real = await realpath(p);
      } catch (err) {
        if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') throw err;
        if (p === this.rootDir || !p.startsWith(this.rootDir + sep)) return; // the root itself is not there yet
        p = dirname(p);
      }
    }
    this.#realRoot ??= await realpath(this.rootDir);
    if (real !== this.#realRoot && !real.startsWith(this.#realRoot + sep)) {
      throw new UserErrorStorageAccessDenied(`"${key}" in ${this.location} leads outside the storage root through a symbolic link`, {
        hint: 'Remove symbolic links from inside the storage directory; pgvault never follows them out of its root.',
      });
    }
  }

  #symlink(key: string): UserErrorStorageAccessDenied {
    return new UserErrorStorageAccessDenied(`"${key}" in ${this.location} is a symbolic link, not an object`, {
      hint: 'Remove symbolic links from inside the storage directory; pgvault never follows them.',
    });
  }

  #objectInTheWay(key: string): UserErrorInvalidStorageKey {
    return new UserErrorInvalidStorageKey(
      `cannot store "${key}" in ${this.location}: a path component is an object, or the key is a prefix of other objects`,
      { hint: 'On a filesystem a key cannot be both an object and a prefix of other objects ("a" and "a/b").' },
    );
  }

  /** OS errors to coded errors, at the boundary. */
  #translate(err: unknown, key: string, verb: string): Error {
    if (err instanceof PgvaultError) return err;
    if ((err instanceof Error && err.name === 'AbortError') || isBodyError(err)) return err as Error;
    const c = code(err);
    const what = `${verb} "${key}" in ${this.location}`;
    switch (c) {
      case 'ENOENT':
      case 'ENOTDIR':
      case 'EISDIR':
        return new StorageErrorNotFound(key, this.location, { cause: err });
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return new UserErrorStorageAccessDenied(`cannot ${what}: permission denied (${c})`, { cause: err });
      case 'EIO':
      case 'ENOSPC':
      case 'EDQUOT':
      case 'EMFILE':
      case 'ENFILE':
      case 'EAGAIN':
      case 'EBUSY':
      case 'ETIMEDOUT':
      case 'ESTALE':
      case 'EINTR':
        return new TransientErrorStorageUnavailable(`cannot ${what}: ${c}`, { cause: err });
      default:
        return new InternalErrorUnexpected(`cannot ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

function code(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

/** Makes a rename or link in dir durable. */
async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
