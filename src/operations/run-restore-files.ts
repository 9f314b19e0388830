/** Restore as files: each database of a recovery point as the standard pg_dump custom archive it was (plus
 *  globals.sql for whole-server points) into a local directory or any StorageBackend (a blob container/prefix),
 *  byte-identical to what pg_dump wrote: the SHA-256 is checked against the one recorded at backup time before
 *  a file is made visible. The files restore with plain pg_restore, without pgvault. */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, link, mkdir, open, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { noHardLinks, renameIfAbsent, UserErrorConflict, UserErrorNotFound } from '../lib/index.ts';
import { parseStorageKey, type StorageBackend } from '../storage/contract/index.ts';
import type { ManifestId, Vault } from '../vault/index.ts';
import { databaseOfEntry, entryNames } from './dump-into-vault.ts';
import { IntegrityErrorArchiveHashMismatch } from './run-restore.ts';

export interface RestoredFile {
  /** File name in the target: "<database>.dump" or "globals.sql". */
  name: string;
  database?: string;
  sizeBytes: number;
  sha256: string;
}

export interface RestoreFilesOptions {
  /** Only these databases of the point (default: all). */
  databases?: string[];
  /** Key prefix inside a StorageBackend target, e.g. "restores/2026-11-22/". */
  prefix?: string;
  signal?: AbortSignal;
}

/** A file name for a database that is safe on every filesystem and object store: percent-encoded like the entry,
 *  "*" too (exFAT, FAT and SMB refuse it), and a dot encoded where it starts the name, ends it or doubles ("..",
 *  which storage keys refuse). */
export function dumpFileName(database: string): string {
  return `${encodeURIComponent(database).replace(/\*/g, '%2A').replace(/^\.|\.(?=\.)|\.$/g, '%2E')}.dump`;
}

function alreadyThere(where: string): UserErrorConflict {
  return new UserErrorConflict(`${where} already exists; restore-files does not overwrite`, {
    hint: 'Restore into an empty directory or prefix, or move the existing files away first.',
    details: { path: where },
  });
}

export async function runRestoreFiles(vault: Vault, manifestId: ManifestId, target: string | StorageBackend, opts: RestoreFilesOptions = {}): Promise<RestoredFile[]> {
  const manifest = await vault.readManifest(manifestId);
  const wanted: { entry: (typeof manifest.entries)[number]; name: string; database?: string }[] = [];
  const all = manifest.entries.flatMap((e) => {
    const database = databaseOfEntry(e.name);
    return database === undefined ? [] : [{ entry: e, database }];
  });
  for (const name of opts.databases ?? all.map((d) => d.database)) {
    const d = all.find((x) => x.database === name);
    if (!d) {
      throw new UserErrorNotFound(`recovery point "${manifestId}" holds no database "${name}"`, {
        hint: `Databases: ${all.map((x) => `"${x.database}"`).join(', ')}`,
        details: { database: name },
      });
    }
    wanted.push({ entry: d.entry, name: dumpFileName(d.database), database: d.database });
  }
  const globals = manifest.entries.find((e) => e.name === entryNames.globals);
  if (globals && !opts.databases) wanted.push({ entry: globals, name: 'globals.sql' });

  // Nothing is written when any file is there already (each is also created without overwriting, below).
  if (typeof target === 'string') {
    await mkdir(target, { recursive: true });
    for (const w of wanted) if (await exists(join(target, w.name))) throw alreadyThere(join(target, w.name));
    const collisions = caseCollisions(wanted.map((w) => w.name));
    if (collisions.length > 0 && (await foldsCase(target))) throw oneFileOnThisFilesystem(collisions, wanted, target);
  } else {
    for (const w of wanted) if (await storedAlready(target, parseStorageKey(`${opts.prefix ?? ''}${w.name}`))) throw alreadyThere(`${opts.prefix ?? ''}${w.name}`);
    const collisions = caseCollisions(wanted.map((w) => w.name));
    if (collisions.length > 0 && (await storeFoldsCase(target, opts.prefix ?? ''))) throw oneFileOnThisFilesystem(collisions, wanted, `${target.location} ${opts.prefix ?? ''}`.trim());
  }
  const out: RestoredFile[] = [];
  for (const w of wanted) {
    const src = vault.load(manifestId, w.entry.name);
    const sha = createHash('sha256');
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback) {
        sha.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
      flush(cb: TransformCallback) {
        // Checked before the last byte is passed on: a mismatching file never completes (and is never renamed/put).
        cb(sha.copy().digest('hex') === w.entry.sha256 ? null : new IntegrityErrorArchiveHashMismatch(w.entry.name));
      },
    });
    if (typeof target === 'string') {
      const final = join(target, w.name);
      // A partial file of its own (two restores into one directory never share one), made visible by a hard link
      // that fails rather than replace a file that appeared meanwhile.
      const partial = join(target, `.${w.name}.${randomBytes(6).toString('hex')}.partial`);
      try {
        await pipeline(src, hasher, createWriteStream(partial, { mode: 0o600, flush: true, flags: 'wx' }), ...(opts.signal ? [{ signal: opts.signal }] : []));
        await publish(partial, final);
      } finally {
        await rm(partial, { force: true });
      }
    } else {
      const key = parseStorageKey(`${opts.prefix ?? ''}${w.name}`);
      const body = new PassThrough();
      const feeding = pipeline(src, hasher, body);
      const [fed, put] = await Promise.allSettled([feeding, target.put(key, body as Readable, { ifAbsent: true, ...(opts.signal ? { signal: opts.signal } : {}) })]);
      if (put.status === 'rejected') {
        // A put that failed stored nothing (puts are atomic): there is nothing of ours to delete, and the key may be
        // another job's that appeared meanwhile. Its conflict is the error to show; otherwise the feed's (the put
        // only saw its body break).
        if ((put.reason as { code?: string })?.code === 'StorageErrorAlreadyExists') throw alreadyThere(`${opts.prefix ?? ''}${w.name}`);
        throw fed.status === 'rejected' ? fed.reason : put.reason;
      }
      if (fed.status === 'rejected') {
        // Stored, but the bytes did not check out: the object is ours, remove it.
        await target.delete(key).catch(() => undefined);
        throw fed.reason;
      }
    }
    out.push({ name: w.name, ...(w.database !== undefined ? { database: w.database } : {}), sizeBytes: size, sha256: sha.digest('hex') });
  }
  return out;
}

/** Groups of names that a filesystem blind to case (exFAT, FAT, NTFS, SMB shares; APFS and HFS+ by default) would
 *  store as one file. The names are percent-encoded, so ASCII: their upper case is what such a filesystem sees. */
function caseCollisions(names: string[]): string[][] {
  const byFolded = new Map<string, string[]>();
  for (const n of names) byFolded.set(n.toUpperCase(), [...(byFolded.get(n.toUpperCase()) ?? []), n]);
  return [...byFolded.values()].filter((g) => g.length > 1);
}

/** Whether a store is blind to case (a FilesystemBackend on exFAT): a probe object is found under its name in upper
 *  case. Object stores are not; the probe costs them a put, a stat and a delete, and only when names collide. */
async function storeFoldsCase(target: StorageBackend, prefix: string): Promise<boolean> {
  const probe = parseStorageKey(`${prefix}.pgvault-case-probe-${randomBytes(6).toString('hex')}`);
  await target.put(probe, Buffer.alloc(0), { ifAbsent: true });
  try {
    const slash = probe.lastIndexOf('/');
    return await storedAlready(target, parseStorageKey(probe.slice(0, slash + 1) + probe.slice(slash + 1).toUpperCase()));
  } finally {
    await target.delete(probe).catch(() => undefined);
  }
}

/** Whether the filesystem of `dir` is blind to case: a probe file is found under its name in upper case. */
async function foldsCase(dir: string): Promise<boolean> {
  const probe = join(dir, `.pgvault-case-probe-${randomBytes(6).toString('hex')}`);
  await (await open(probe, 'wx')).close();
  try {
    return await exists(join(dir, basename(probe).toUpperCase()));
  } finally {
    await rm(probe, { force: true });
  }
}

function oneFileOnThisFilesystem(collisions: string[][], wanted: { name: string; database?: string }[], dir: string): UserErrorConflict {
  const groups = collisions.map((g) => g.map((n) => `"${wanted.find((w) => w.name === n)?.database ?? n}"`).join(' and '));
  return new UserErrorConflict(`databases ${groups.join('; ')} would be one file in ${dir}: its filesystem does not tell upper from lower case`, {
    hint: 'Restore them one at a time into separate directories (--database), or into a directory on a case-sensitive filesystem. Nothing was written.',
    details: { path: dir, collisions },
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

async function storedAlready(target: StorageBackend, key: ReturnType<typeof parseStorageKey>): Promise<boolean> {
  return target.stat(key).then(
    () => true,
    (err: { code?: string }) => {
      if (err?.code === 'StorageErrorNotFound') return false;
      throw err;
    },
  );
}

/** Makes a verified partial file visible under its final name without ever replacing a file: a hard link, which
 *  fails on an existing name; where the filesystem has no hard links (vfat, exFAT, some SMB shares), a rename under
 *  a lock on the name (renameIfAbsent), so that no empty or partial file is ever seen under the final name. */
async function publish(partial: string, final: string): Promise<void> {
  try {
    await link(partial, final);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyThere(final);
    if (!noHardLinks(err)) throw err;
  }
  if (!(await renameIfAbsent(partial, final))) throw alreadyThere(final);
}
