import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { StorageErrorAlreadyExists, StorageErrorNotFound, UserErrorInvalidStorageKey, UserErrorInvalidStorageUrl, UserErrorStorageAccessDenied } from '../errors.ts';
import type { StorageKey } from '../storage-backend.ts';
import { listAll, readAll } from '../testing/conformance.ts';
import { FilesystemBackend, tempFilePrefix } from './filesystem-backend.ts';

const base = mkdtempSync(join(tmpdir(), 'pgvault-fs-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshRoot = (): string => join(base, `root-${n++}`);
const k = (s: string): StorageKey => s as StorageKey;

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => statSync(join(dir, p)).isFile());
}

describe('FilesystemBackend', () => {
  it('refuses a relative or empty root', () => {
    for (const r of ['', 'relative/dir', './x']) expect(() => new FilesystemBackend(r)).toThrow(UserErrorInvalidStorageUrl);
  });

  it('stores keys as files under the root and reports a file:// location', async () => {
    const root = freshRoot();
    const b = new FilesystemBackend(root);
    await b.put(k('data/3f/3f9a'), Buffer.from('x'));
    expect(allFiles(root)).toEqual(['data/3f/3f9a']);
    expect(b.location).toBe(`file://${root}`);
  });

  it('never resolves a key outside the root, whatever the key', async () => {
    const outer = freshRoot();
    const root = join(outer, 'inner');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(outer, 'secret'), 'outside');
    const b = new FilesystemBackend(root);
    for (const bad of ['../secret', 'a/../../secret', '/etc/passwd', '..', 'a/..', '..\\secret', `${outer}/secret`.slice(1).replace(/^/, '/')]) {
      await expect(b.get(k(bad))).rejects.toBeInstanceOf(UserErrorInvalidStorageKey);
      await expect(b.put(k(bad), Buffer.from('evil'))).rejects.toBeInstanceOf(UserErrorInvalidStorageKey);
      await expect(b.delete(k(bad))).rejects.toBeInstanceOf(UserErrorInvalidStorageKey);
    }
    expect(readdirSync(outer).sort()).toEqual(['inner', 'secret']);
    expect(() => b.pathOf('x/y')).not.toThrow();
    expect(b.pathOf('x/y').startsWith(`${root}/`)).toBe(true);
  });

  it('keeps temp files of an in-flight put out of list() and removes them when the put is aborted', async () => {
    const root = freshRoot();
    const b = new FilesystemBackend(root);
    const ac = new AbortController();
    let pushed = 0;
    let release!: () => void;
    const firstChunkWritten = new Promise<void>((r) => (release = r));
    const body = new Readable({
      read() {
        if (pushed === 0) {
          pushed++;
          this.push(Buffer.alloc(1024, 1));
          return;
        }
        // Stall: the put stays in flight until aborted.
        release();
      },
    });
    const put = b.put(k('dir/obj'), body, { signal: ac.signal });
    await firstChunkWritten;
    const inFlight = readdirSync(join(root, 'dir'));
    expect(inFlight).toHaveLength(1);
    expect(inFlight[0]!.startsWith(tempFilePrefix)).toBe(true);
    expect(await listAll(b, '')).toEqual([]);
    ac.abort();
    await expect(put).rejects.toThrow();
    expect(readdirSync(join(root, 'dir'))).toEqual([]);
    await expect(b.stat(k('dir/obj'))).rejects.toBeInstanceOf(StorageErrorNotFound);
  });

  it('refuses keys in the temp-file namespace', async () => {
    const b = new FilesystemBackend(freshRoot());
    await expect(b.put(k(`a/${tempFilePrefix}x`), Buffer.from('x'))).rejects.toBeInstanceOf(UserErrorInvalidStorageKey);
  });

  it('concurrent ifAbsent puts: exactly one of many wins, no temp file is left', async () => {
    const root = freshRoot();
    const b = new FilesystemBackend(root);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => b.put(k('once'), Buffer.from(`body ${i}`), { ifAbsent: true })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StorageErrorAlreadyExists);
    expect(allFiles(root)).toEqual(['once']);
  });

  it('a key that is both an object and a prefix is refused with a coded error', async () => {
    const b = new FilesystemBackend(freshRoot());
    await b.put(k('a'), Buffer.from('x'));
    await expect(b.put(k('a/b'), Buffer.from('y'))).rejects.toBeInstanceOf(UserErrorInvalidStorageKey);
    await b.put(k('c/d'), Buffer.from('y'));
    await expect(b.put(k('c'), Buffer.from('x'))).rejects.toBeInstanceOf(UserErrorInvalidStorageKey);
    await b.delete(k('c')); // a prefix is not an object: nothing to delete
    expect((await readAll(await b.get(k('c/d')))).toString()).toBe('y');
  });

  it('lists nothing for a root that does not exist yet', async () => {
    const b = new FilesystemBackend(join(freshRoot(), 'not', 'yet'));
    expect(await listAll(b, '')).toEqual([]);
    expect(await listAll(b, 'x/')).toEqual([]);
  });

  it('a get stream can be cancelled by its signal', async () => {
    const b = new FilesystemBackend(freshRoot());
    await b.put(k('big'), Buffer.alloc(4 * 1024 * 1024, 7));
    const ac = new AbortController();
    const s = await b.get(k('big'), undefined, ac.signal);
    ac.abort();
    await expect(readAll(s)).rejects.toThrow(/abort/i);
  });
});

describe('FilesystemBackend and symbolic links planted in its tree', () => {
  it('never reads, writes, deletes or lists outside the root through a link', async () => {
    const { symlinkSync, existsSync, readFileSync } = await import('node:fs');
    const outer = freshRoot();
    const root = join(outer, 'vault');
    const outside = join(outer, 'outside');
    mkdirSync(root, { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'secret'), 'outside');
    symlinkSync(outside, join(root, 'evil')); // a directory link
    symlinkSync(join(outside, 'secret'), join(root, 'link')); // a file link
    const b = new FilesystemBackend(root);
    const denied = async (p: Promise<unknown>): Promise<void> => {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UserErrorStorageAccessDenied);
      expect((err as Error).message).toMatch(/symbolic link/);
    };
    await denied(b.get(k('evil/secret')));
    await denied(b.stat(k('evil/secret')));
    await denied(b.put(k('evil/new'), Buffer.from('x')));
    await denied(b.put(k('evil/deeper/new'), Buffer.from('x')));
    await denied(b.delete(k('evil/secret')));
    await denied(b.get(k('link')));
    await denied(b.stat(k('link')));
    await denied(listAll(b, 'evil/'));
    expect(await listAll(b, '')).toEqual([]); // links are neither objects nor directories to walk
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('outside');
    expect(existsSync(join(outside, 'new')) || existsSync(join(outside, 'deeper'))).toBe(false);
    // A root that is itself a link is fine.
    symlinkSync(root, join(outer, 'root-link'));
    const viaLink = new FilesystemBackend(join(outer, 'root-link'));
    await viaLink.put(k('ok/x'), Buffer.from('fine'));
    expect((await readAll(await viaLink.get(k('ok/x')))).toString()).toBe('fine');
  });
});
