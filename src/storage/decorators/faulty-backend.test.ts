import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TransientErrorStorageUnavailable } from '../errors.ts';
import { MemoryBackend } from '../memory/memory-backend.ts';
import type { StorageKey } from '../storage-backend.ts';
import { describeStorageConformance, readAll } from '../testing/conformance.ts';
import { FaultyBackend } from './faulty-backend.ts';

const k = (s: string): StorageKey => s as StorageKey;

describeStorageConformance('FaultyBackend without rules over memory', () => new FaultyBackend(new MemoryBackend()));

function differingBits(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) for (let x = a[i]! ^ b[i]!; x; x &= x - 1) n++;
  return n;
}

describe('FaultyBackend', () => {
  it('fails the Nth call of a verb, for `times` calls, only for matching keys', async () => {
    const f = new FaultyBackend(new MemoryBackend()).inject({ verb: 'put', nth: 2, times: 2, key: 'data/', fault: { kind: 'error' } });
    await f.put(k('data/1'), Buffer.from('a'));
    await f.put(k('other'), Buffer.from('a')); // does not match: not counted
    await expect(f.put(k('data/2'), Buffer.from('a'))).rejects.toBeInstanceOf(TransientErrorStorageUnavailable);
    await expect(f.put(k('data/3'), Buffer.from('a'))).rejects.toBeInstanceOf(TransientErrorStorageUnavailable);
    await f.put(k('data/4'), Buffer.from('a'));
    expect(f.calls.put).toBe(5);
    expect(f.fired).toBe(2);
    await expect(f.stat(k('data/2'))).rejects.toThrow(/does not exist/); // the failed put stored nothing
  });

  it('error-after lets the call land, then throws', async () => {
    const f = new FaultyBackend(new MemoryBackend()).inject({ verb: 'put', fault: { kind: 'error-after', error: () => new Error('reply lost') } });
    await expect(f.put(k('a'), Buffer.from('x'))).rejects.toThrow('reply lost');
    expect((await f.stat(k('a'))).sizeBytes).toBe(1);
  });

  it('truncates a get and breaks one mid-stream', async () => {
    const inner = new MemoryBackend();
    await inner.put(k('a'), Buffer.alloc(200_000, 1));
    const f = new FaultyBackend(inner).inject({ verb: 'get', fault: { kind: 'truncate', keepBytes: 70_000 } });
    expect((await readAll(await f.get(k('a')))).length).toBe(70_000);
    f.inject({ verb: 'get', fault: { kind: 'break', afterBytes: 1234 } });
    await expect(readAll(await f.get(k('a')))).rejects.toBeInstanceOf(TransientErrorStorageUnavailable);
    expect((await readAll(await f.get(k('a')))).length).toBe(200_000);
  });

  it('flips one bit in what a get returns, leaving the stored object alone', async () => {
    const inner = new MemoryBackend();
    const body = Buffer.alloc(150_000, 0x55);
    await inner.put(k('a'), body);
    const f = new FaultyBackend(inner).inject({ verb: 'get', fault: { kind: 'flip', atByte: 100_000, bit: 3 } });
    const got = await readAll(await f.get(k('a')));
    expect(differingBits(got, body)).toBe(1);
    expect(got[100_000]).toBe(0x55 ^ 8);
    expect((await readAll(await inner.get(k('a')))).equals(body)).toBe(true);
  });

  it('flips one bit in what a put stores, for Buffer and Readable bodies', async () => {
    const inner = new MemoryBackend();
    const f = new FaultyBackend(inner).inject({ verb: 'put', times: 2, fault: { kind: 'flip', atByte: 70_000 } });
    const body = Buffer.alloc(100_000, 0);
    await f.put(k('buf'), body);
    await f.put(k('stream'), Readable.from([body.subarray(0, 65_536), body.subarray(65_536)]));
    expect(body.every((x) => x === 0)).toBe(true); // the caller's buffer is not touched
    for (const key of ['buf', 'stream']) {
      const stored = await readAll(await inner.get(k(key)));
      expect(differingBits(stored, body)).toBe(1);
      expect(stored[70_000]).toBe(1);
    }
  });

  it('slows a call down through the injected sleep', async () => {
    const slept: number[] = [];
    const f = new FaultyBackend(new MemoryBackend(), { sleep: async (ms) => void slept.push(ms) }).inject({ verb: 'delete', fault: { kind: 'delay', delayMs: 750 } });
    await f.delete(k('a'));
    await f.delete(k('a'));
    expect(slept).toEqual([750]);
  });
});
