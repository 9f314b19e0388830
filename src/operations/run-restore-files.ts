/** Restore as files: each database of a recovery point as the standard pg_dump custom archive it was (plus
 *  globals.sql for whole-server points) into a local directory or any StorageBackend (a blob container/prefix),
 *  byte-identical to what pg_dump wrote: the SHA-256 is checked against the one recorded at backup time before
 *  a file is made visible. The files restore with plain pg_restore, without pgvault. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserErrorNotFound } from '../lib/index.ts';
import { parseStorageKey, type StorageBackend } from '../storage/contract/index.ts';
import type { ManifestId, Vault } from '../vault/index.ts';
import { entryNames } from './dump-into-vault.ts';
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

/** A file name for a database that is safe on every filesystem and object store: percent-encoded like the entry. */
export function dumpFileName(database: string): string {
  return `${encodeURIComponent(database).replace(/^\./, '%2E')}.dump`;
}

export async function runRestoreFiles(vault: Vault, manifestId: ManifestId, target: string | StorageBackend, opts: RestoreFilesOptions = {}): Promise<RestoredFile[]> {
  const manifest = await vault.readManifest(manifestId);
  const wanted: { entry: (typeof manifest.entries)[number]; name: string; database?: string }[] = [];
  const dumps = manifest.entries.filter((e) => e.name.startsWith('databases/') && e.name.endsWith('.dump'));
  const all = dumps.map((e) => ({ entry: e, database: decodeURIComponent(e.name.slice('databases/'.length, -'.dump'.length)) }));
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

  if (typeof target === 'string') await mkdir(target, { recursive: true });
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
      const partial = `${final}.partial`;
      try {
        await pipeline(src, hasher, createWriteStream(partial, { mode: 0o600, flush: true }), ...(opts.signal ? [{ signal: opts.signal }] : []));
        await rename(partial, final);
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
    } else {
      const body = new PassThrough();
      const feeding = pipeline(src, hasher, body);
      const key = parseStorageKey(`${opts.prefix ?? ''}${w.name}`);
      const [fed, put] = await Promise.allSettled([feeding, target.put(key, body as Readable, opts.signal ? { signal: opts.signal } : {})]);
      if (fed.status === 'rejected') {
        await target.delete(key).catch(() => undefined);
        throw fed.reason;
      }
      if (put.status === 'rejected') throw put.reason;
    }
    out.push({ name: w.name, ...(w.database !== undefined ? { database: w.database } : {}), sizeBytes: size, sha256: sha.digest('hex') });
  }
  return out;
}
