import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UserErrorInvalidStorageKey, UserErrorStorageReadOnly } from '../errors.ts';
import { MemoryBackend } from '../memory/memory-backend.ts';
import type { StorageKey } from '../storage-backend.ts';
import { listAll, readAll } from '../testing/conformance.ts';
import { ReadOnlyBackend } from './read-only-backend.ts';

const k = (s: string): StorageKey => s as StorageKey;

describe('ReadOnlyBackend', () => {
  it('reads through and refuses writes with a coded 403 error, leaving the store untouched', async () => {
    const inner = new MemoryBackend();
    await inner.put(k('a/b'), Buffer.from('data'));
    const ro = new ReadOnlyBackend(inner);
    expect((await readAll(await ro.get(k('a/b'), { offset: 1, length: 2 }))).toString()).toBe('at');
    expect((await ro.stat(k('a/b'))).sizeBytes).toBe(4);
    expect(await listAll(ro, 'a/')).toEqual(['a/b']);
    for (const attempt of [ro.put(k('a/b'), Buffer.from('x')), ro.put(k('new'), Readable.from([Buffer.from('x')])), ro.delete(k('a/b'))]) {
      const err = await attempt.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UserErrorStorageReadOnly);
      expect((err as UserErrorStorageReadOnly).code).toBe('UserErrorStorageReadOnly');
      expect((err as UserErrorStorageReadOnly).httpStatus).toBe(403);
      expect((err as UserErrorStorageReadOnly).hint).toBeTruthy();
    }
    expect((await readAll(await inner.get(k('a/b')))).toString()).toBe('data');
    expect(inner.usage.objects).toBe(1);
    await expect(ro.put(k('../x'), Buffer.from('x'))).rejects.toBeInstanceOf(UserErrorInvalidStorageKey);
  });
});
