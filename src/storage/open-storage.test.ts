import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReadOnlyBackend } from './decorators/read-only-backend.ts';
import { RetryingBackend } from './decorators/retrying-backend.ts';
import { UserErrorInvalidStorageUrl, UserErrorStorageReadOnly } from './errors.ts';
import { FilesystemBackend } from './filesystem/filesystem-backend.ts';
import { filesystemRootOf, openStorage, storageKindOf } from './open-storage.ts';
import type { StorageKey } from './storage-backend.ts';
import { readAll } from './testing/conformance.ts';

const base = mkdtempSync(join(tmpdir(), 'pgvault-open-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('openStorage', () => {
  it('opens an absolute path and a file:// URL as the same filesystem vault, wrapped for retries', async () => {
    const dir = join(base, 'v1');
    const a = await openStorage(dir);
    const b = await openStorage(`file://${dir}`, { retry: false });
    expect(a).toBeInstanceOf(RetryingBackend);
    expect(b).toBeInstanceOf(FilesystemBackend);
    expect(a.location).toBe(`file://${dir}`);
    await a.put('x' as StorageKey, Buffer.from('same'));
    expect((await readAll(await b.get('x' as StorageKey))).toString()).toBe('same');
  });

  it('opens read-only when asked', async () => {
    const ro = await openStorage(join(base, 'v2'), { readOnly: true });
    expect(ro).toBeInstanceOf(ReadOnlyBackend);
    await expect(ro.put('x' as StorageKey, Buffer.from('x'))).rejects.toBeInstanceOf(UserErrorStorageReadOnly);
  });

  it('names the driver kind of a location without opening it', () => {
    expect(storageKindOf('/srv/v')).toBe('filesystem');
    expect(storageKindOf('file:///srv/v')).toBe('filesystem');
    expect(storageKindOf('azblob://acct/c01')).toBe('azure-blob');
    expect(storageKindOf('https://acct.blob.core.windows.net/c01?sig=x')).toBe('azure-blob');
    expect(storageKindOf('s3://bucket/p')).toBe('s3');
  });

  it.each([
    ['', /empty/],
    ['relative/dir', /relative path/],
    ['./vault', /relative path/],
    ['gs://bucket/x', /unsupported storage scheme "gs:"/],
    ['ftp://host/x', /unsupported storage scheme/],
    ['/srv/../etc', /"\.\." segment/],
    ['file:///srv/%2e%2e/etc', /"\.\." segment/],
    ['file://otherhost/srv/v', /remote host/],
    ['file:///srv/v?x=1', /query/],
    ['file:relative', /must be file:\/\/\/absolute\/path/],
  ])('refuses %j with UserErrorInvalidStorageUrl and a hint', async (url, why) => {
    const err = await openStorage(url).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorInvalidStorageUrl);
    expect((err as Error).message).toMatch(why);
    expect((err as UserErrorInvalidStorageUrl).hint).toBeTruthy();
  });

  it('gives the absolute directory of file URLs, percent-decoded', () => {
    expect(filesystemRootOf('file:///srv/my%20vault')).toBe('/srv/my vault');
    expect(filesystemRootOf('file://localhost/srv/v')).toBe('/srv/v');
  });
});
