import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StorageErrorAlreadyExists, StorageErrorNotFound, TransientErrorStorageUnavailable, UserErrorStorageAccessDenied } from '../errors.ts';
import { MemoryBackend } from '../memory/memory-backend.ts';
import type { StorageKey } from '../storage-backend.ts';
import { describeStorageConformance, listAll, readAll } from '../testing/conformance.ts';
import { FaultyBackend } from './faulty-backend.ts';
import { RetryingBackend } from './retrying-backend.ts';

const k = (s: string): StorageKey => s as StorageKey;

function setup(opts: { maxAttempts?: number } = {}) {
  const inner = new MemoryBackend();
  const faulty = new FaultyBackend(inner);
  const sleeps: number[] = [];
  const retries: string[] = [];
  const b = new RetryingBackend(faulty, {
    maxAttempts: opts.maxAttempts ?? 4,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onRetry: (i) => retries.push(`${i.verb} ${i.attempt}`),
  });
  return { inner, faulty, b, sleeps, retries };
}

describeStorageConformance('RetryingBackend over memory', () => new RetryingBackend(new MemoryBackend()));

describe('RetryingBackend', () => {
  it('backs off exponentially under a cap, with full jitter', () => {
    const fixed = (r: number) => new RetryingBackend(new MemoryBackend(), { baseDelayMs: 100, maxDelayMs: 1000, random: () => r });
    expect([1, 2, 3, 4, 5, 6].map((a) => fixed(0.999999).delayMs(a))).toEqual([99, 199, 399, 799, 999, 999]);
    expect([1, 2, 3].map((a) => fixed(0.5).delayMs(a))).toEqual([50, 100, 200]);
    expect(fixed(0).delayMs(7)).toBe(0);
  });

  it('retries a transient put of a Buffer until it succeeds', async () => {
    const { faulty, b, sleeps, inner, retries } = setup();
    faulty.inject({ verb: 'put', fault: { kind: 'error' }, times: 2 });
    await b.put(k('a'), Buffer.from('payload'));
    expect(faulty.calls.put).toBe(3);
    expect(sleeps).toEqual([100, 200]);
    expect(retries).toEqual(['put 1', 'put 2']);
    expect((await readAll(await inner.get(k('a')))).toString()).toBe('payload');
  });

  it('gives up after maxAttempts with the transient error', async () => {
    const { faulty, b } = setup({ maxAttempts: 3 });
    faulty.inject({ verb: 'stat', fault: { kind: 'error' }, times: Infinity });
    await expect(b.stat(k('a'))).rejects.toBeInstanceOf(TransientErrorStorageUnavailable);
    expect(faulty.calls.stat).toBe(3);
  });

  it('never retries user or integrity errors', async () => {
    const { faulty, b, sleeps } = setup();
    await expect(b.get(k('missing'))).rejects.toBeInstanceOf(StorageErrorNotFound);
    expect(faulty.calls.get).toBe(1);
    faulty.inject({ verb: 'delete', fault: { kind: 'error', error: () => new UserErrorStorageAccessDenied('denied') } });
    await expect(b.delete(k('x'))).rejects.toBeInstanceOf(UserErrorStorageAccessDenied);
    expect(faulty.calls.delete).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('retries a put of a Readable that was never read, but not one whose bytes were consumed', async () => {
    const { faulty, b, inner } = setup();
    faulty.inject({ verb: 'put', fault: { kind: 'error' } }); // fails before the body is touched
    await b.put(k('fresh'), Readable.from([Buffer.from('abc')]));
    expect((await readAll(await inner.get(k('fresh')))).toString()).toBe('abc');
    expect(faulty.calls.put).toBe(2);

    faulty.inject({ verb: 'put', fault: { kind: 'error-after' } }); // the body was consumed, then the reply was lost
    await expect(b.put(k('consumed'), Readable.from([Buffer.from('xyz')]))).rejects.toBeInstanceOf(TransientErrorStorageUnavailable);
    expect(faulty.calls.put).toBe(3);
  });

  it('a retried put-if-absent whose lost attempt landed succeeds; someone else\'s object still conflicts', async () => {
    const { faulty, b, inner } = setup();
    faulty.inject({ verb: 'put', fault: { kind: 'error-after' } }); // lands, then the reply is lost
    await b.put(k('mine'), Buffer.from('my bytes'), { ifAbsent: true });
    expect(faulty.calls.put).toBe(2);
    expect((await readAll(await inner.get(k('mine')))).toString()).toBe('my bytes');

    await inner.put(k('theirs'), Buffer.from('their bytes'));
    faulty.inject({ verb: 'put', fault: { kind: 'error' } });
    await expect(b.put(k('theirs'), Buffer.from('my bytes!!!'), { ifAbsent: true })).rejects.toBeInstanceOf(StorageErrorAlreadyExists);
    await expect(b.put(k('theirs'), Buffer.from('their bytes'), { ifAbsent: true })).rejects.toBeInstanceOf(StorageErrorAlreadyExists); // first attempt: no retry, no excuse
  });

  it('resumes a download that breaks mid-stream from the first missing byte', async () => {
    const { faulty, b, inner, retries } = setup();
    const body = randomBytes(300_000);
    await inner.put(k('big'), body);
    faulty.inject({ verb: 'get', fault: { kind: 'break', afterBytes: 100_000 } });
    faulty.inject({ verb: 'get', fault: { kind: 'break', afterBytes: 50_000 }, nth: 2 });
    expect((await readAll(await b.get(k('big')))).equals(body)).toBe(true);
    expect(faulty.calls.get).toBe(3);
    expect(retries).toEqual(['get 1', 'get 2']);

    faulty.inject({ verb: 'get', fault: { kind: 'break', afterBytes: 1000 } });
    const part = await readAll(await b.get(k('big'), { offset: 5000, length: 200_000 }));
    expect(part.equals(body.subarray(5000, 205_000))).toBe(true);
  });

  it('a download that keeps breaking fails with the transient error after maxAttempts', async () => {
    const { faulty, b, inner } = setup({ maxAttempts: 3 });
    await inner.put(k('big'), randomBytes(10_000));
    faulty.inject({ verb: 'get', fault: { kind: 'break', afterBytes: 10 }, times: Infinity });
    await expect(readAll(await b.get(k('big')))).rejects.toBeInstanceOf(TransientErrorStorageUnavailable);
    expect(faulty.calls.get).toBe(3);
  });

  it('retries a listing that fails before its first key, not one that fails after', async () => {
    const { faulty, b, inner } = setup();
    await inner.put(k('p/1'), Buffer.from('x'));
    await inner.put(k('p/2'), Buffer.from('x'));
    faulty.inject({ verb: 'list', fault: { kind: 'error' } });
    expect((await listAll(b, 'p/')).sort()).toEqual(['p/1', 'p/2']);
    faulty.inject({ verb: 'list', fault: { kind: 'error-after' } });
    await expect(listAll(b, 'p/')).rejects.toBeInstanceOf(TransientErrorStorageUnavailable);
  });

  it('stops waiting when the put is aborted during a backoff', async () => {
    const faulty = new FaultyBackend(new MemoryBackend()).inject({ verb: 'put', fault: { kind: 'error' }, times: Infinity });
    const b = new RetryingBackend(faulty, { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 1 });
    const ac = new AbortController();
    const p = b.put(k('a'), Buffer.from('x'), { signal: ac.signal });
    setImmediate(() => ac.abort());
    await expect(p).rejects.toThrow(/abort/i);
    expect(faulty.calls.put).toBe(1);
  });
});
