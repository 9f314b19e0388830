import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/index.ts';
import type { StorageKey } from '../storage-backend.ts';
import { describeStorageConformance, readAll } from '../testing/conformance.ts';
import { MemoryBackend } from './memory-backend.ts';

describeStorageConformance('memory', () => new MemoryBackend());

describe('MemoryBackend', () => {
  it('stamps modifiedAt from the injected clock', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const b = new MemoryBackend({ clock });
    await b.put('a' as StorageKey, Buffer.from('x'));
    clock.advance(3_600_000);
    await b.put('b' as StorageKey, Buffer.from('y'));
    expect((await b.stat('a' as StorageKey)).modifiedAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect((await b.stat('b' as StorageKey)).modifiedAt.toISOString()).toBe('2026-01-01T01:00:00.000Z');
  });
  it('never shares buffers with callers: mutating the put body or a read does not alter the object', async () => {
    const b = new MemoryBackend();
    const body = Buffer.from('original');
    await b.put('k' as StorageKey, body);
    body.fill(0);
    const read = await readAll(await b.get('k' as StorageKey));
    read.fill(0);
    expect((await readAll(await b.get('k' as StorageKey))).toString()).toBe('original');
    expect(b.usage).toEqual({ objects: 1, bytes: 8 });
  });
});
