/** The storage conformance suite: the behaviour every StorageBackend promises (storage-backend.ts), as one
 *  vitest suite that each driver runs against its real store or emulator. Test-only: imported by test files,
 *  never by production code. Each test works under its own random prefix, so one store can be shared. */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageErrorAlreadyExists, StorageErrorNotFound, UserErrorInvalidStorageKey } from '../errors.ts';
import type { StorageBackend, StorageKey } from '../storage-backend.ts';

export interface ConformanceOptions {
  /** Keys written for the many-keys listing test; more than one listing page of the store (Azure: 1000). */
  manyKeys?: number;
  /** Size of the multi-MiB round trip. */
  bigBodyBytes?: number;
  /** Characters the store refuses in names (exFAT, FAT: \ : * ? " < > |): a key holding one must fail with
   *  UserErrorInvalidStorageKey and store nothing, instead of round-tripping. */
  refusedNameChars?: RegExp;
}

/** Reads a stream to its end. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** A Readable that hands out `data` in `chunkBytes` pieces, yielding to the event loop between pieces, so
 *  that the consumer meets a producer slower than itself. */
export function slowReadable(data: Buffer, chunkBytes = 64 * 1024): Readable {
  let off = 0;
  return new Readable({
    highWaterMark: chunkBytes,
    read() {
      setImmediate(() => {
        if (off >= data.length) {
          this.push(null);
          return;
        }
        const end = Math.min(off + chunkBytes, data.length);
        this.push(data.subarray(off, end));
        off = end;
      });
    },
  });
}

export async function listAll(backend: StorageBackend, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of backend.list(prefix)) out.push(k);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  });
  await Promise.all(workers);
}

/** Registers a describe() block that checks `makeBackend()`'s backend against the StorageBackend contract.
 *  The backend is made once, closed in afterAll; each test uses keys under a fresh random prefix. */
export function describeStorageConformance(
  name: string,
  makeBackend: () => StorageBackend | Promise<StorageBackend>,
  opts: ConformanceOptions = {},
): void {
  const manyKeys = opts.manyKeys ?? 1200;
  const bigBodyBytes = opts.bigBodyBytes ?? 5 * 1024 * 1024 + 123;

  describe(`StorageBackend conformance: ${name}`, () => {
    let b: StorageBackend;
    let prefix: string;
    const key = (k: string): StorageKey => `${prefix}${k}` as StorageKey;

    beforeAll(async () => {
      b = await makeBackend();
      prefix = `conformance-${randomUUID().slice(0, 8)}/`;
    });
    afterAll(async () => {
      await b?.close();
    });
    const fresh = (): string => {
      prefix = `conformance-${randomUUID().slice(0, 8)}/`;
      return prefix;
    };

    it('describes its capabilities as data and its location without credentials', () => {
      for (const c of ['atomicPutIfAbsent', 'immutability', 'rangedReads'] as const) expect(typeof b.capabilities[c]).toBe('boolean');
      expect(typeof b.location).toBe('string');
      expect(b.location).not.toMatch(/sig=|AccountKey=|password/i);
    });

    it('round-trips empty, small and multi-MiB bodies given as Buffers', async () => {
      fresh();
      const bodies = { empty: Buffer.alloc(0), small: Buffer.from('hello, vault'), big: randomBytes(bigBodyBytes) };
      for (const [k, body] of Object.entries(bodies)) await b.put(key(k), body);
      for (const [k, body] of Object.entries(bodies)) {
        const got = await readAll(await b.get(key(k)));
        expect(got.length).toBe(body.length);
        expect(got.equals(body)).toBe(true);
        expect((await b.stat(key(k))).sizeBytes).toBe(body.length);
      }
    });

    it('round-trips empty, small and multi-MiB bodies given as slow Readables', async () => {
      fresh();
      const bodies = { empty: Buffer.alloc(0), small: randomBytes(1000), big: randomBytes(bigBodyBytes) };
      for (const [k, body] of Object.entries(bodies)) await b.put(key(k), slowReadable(body, 100 * 1024 + 7));
      for (const [k, body] of Object.entries(bodies)) {
        const got = await readAll(await b.get(key(k)));
        expect(got.equals(body)).toBe(true);
      }
    });

    it('overwrites an existing key when ifAbsent is not set', async () => {
      fresh();
      await b.put(key('x'), Buffer.from('first'));
      await b.put(key('x'), Buffer.from('second, longer'));
      expect((await readAll(await b.get(key('x')))).toString()).toBe('second, longer');
    });

    it('put ifAbsent fails with StorageErrorAlreadyExists on an existing key and keeps the original', async () => {
      fresh();
      await b.put(key('once'), Buffer.from('original'), { ifAbsent: true });
      const err = await rejection(b.put(key('once'), Buffer.from('intruder'), { ifAbsent: true }));
      expect(err).toBeInstanceOf(StorageErrorAlreadyExists);
      expect((err as StorageErrorAlreadyExists).code).toBe('StorageErrorAlreadyExists');
      const err2 = await rejection(b.put(key('once'), slowReadable(randomBytes(300_000)), { ifAbsent: true }));
      expect(err2).toBeInstanceOf(StorageErrorAlreadyExists);
      expect((await readAll(await b.get(key('once')))).toString()).toBe('original');
      expect(await listAll(b, prefix)).toEqual([key('once')]);
    });

    it('concurrent put ifAbsent racers: exactly one wins and its body is stored whole', async (ctx) => {
      if (!b.capabilities.atomicPutIfAbsent) ctx.skip(); // the store declares it cannot enforce this atomically
      fresh();
      for (let round = 0; round < 3; round++) {
        const bodies = Array.from({ length: 6 }, (_, i) => Buffer.concat([Buffer.from(`racer ${i} `), randomBytes(64 * 1024)]));
        const results = await Promise.allSettled(bodies.map((body) => b.put(key(`race-${round}`), slowReadable(body, 16 * 1024), { ifAbsent: true })));
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StorageErrorAlreadyExists);
        const stored = await readAll(await b.get(key(`race-${round}`)));
        expect(stored.equals(bodies[winners[0]!]!)).toBe(true);
      }
    });

    it('reads byte ranges: start, middle, end, past the end, zero-length', async () => {
      fresh();
      const body = randomBytes(300_000);
      await b.put(key('r'), body);
      const range = async (offset: number, length: number): Promise<Buffer> => readAll(await b.get(key('r'), { offset, length }));
      expect((await range(0, 10)).equals(body.subarray(0, 10))).toBe(true);
      expect((await range(123_456, 100_000)).equals(body.subarray(123_456, 223_456))).toBe(true);
      expect((await range(299_990, 10)).equals(body.subarray(299_990))).toBe(true);
      expect((await range(299_990, 1000)).equals(body.subarray(299_990))).toBe(true);
      expect((await range(300_000, 10)).length).toBe(0);
      expect((await range(400_000, 10)).length).toBe(0);
      expect((await range(5, 0)).length).toBe(0);
      expect((await range(0, 300_000)).equals(body)).toBe(true);
      // "The rest, however long": what RetryingBackend asks for when it resumes a whole-object download.
      expect((await range(250_000, Number.MAX_SAFE_INTEGER - 250_000)).equals(body.subarray(250_000))).toBe(true);
    });

    it('refuses a negative or fractional range with a coded error', async () => {
      fresh();
      await b.put(key('r'), Buffer.from('abc'));
      const err = await rejection(b.get(key('r'), { offset: -1, length: 2 }));
      expect((err as { code?: string }).code).toBe('UserErrorInvalidInput');
    });

    it('stats size and modification time', async () => {
      fresh();
      const before = Date.now();
      await b.put(key('s'), randomBytes(4321));
      const st = await b.stat(key('s'));
      expect(st.sizeBytes).toBe(4321);
      expect(st.modifiedAt).toBeInstanceOf(Date);
      // Stores keep whole seconds and their clock may drift a little from ours.
      expect(Math.abs(st.modifiedAt.getTime() - before)).toBeLessThan(5 * 60_000);
    });

    it('throws StorageErrorNotFound for get and stat of a missing key, and of a key that is only a prefix', async () => {
      fresh();
      await b.put(key('dir/child'), Buffer.from('x'));
      for (const k of ['missing', 'dir', 'dir/missing']) {
        const e1 = await rejection(b.get(key(k)));
        expect(e1).toBeInstanceOf(StorageErrorNotFound);
        expect((e1 as StorageErrorNotFound).code).toBe('StorageErrorNotFound');
        expect(await rejection(b.stat(key(k)))).toBeInstanceOf(StorageErrorNotFound);
        expect(await rejection(b.get(key(k), { offset: 0, length: 1 }))).toBeInstanceOf(StorageErrorNotFound);
      }
    });

    it('lists by prefix: nested keys, partial segments, exactly once each, nothing outside the prefix', async () => {
      const p = fresh();
      // No key is also a prefix of another ("a" and "a/b"): not portable to filesystems (storage-backend.ts).
      const keys = ['a', 'abx', 'ab/c', 'ab/d/e', 'abc/f', 'b/a1', 'b/ab/x', 'c'];
      for (const k of keys) await b.put(key(k), Buffer.from(k));
      const sorted = async (pre: string): Promise<string[]> => (await listAll(b, pre)).sort();
      expect(await sorted(p)).toEqual(keys.map((k) => p + k).sort());
      expect(await sorted(`${p}ab`)).toEqual(['abx', 'ab/c', 'ab/d/e', 'abc/f'].map((k) => p + k).sort());
      expect(await sorted(`${p}ab/`)).toEqual(['ab/c', 'ab/d/e'].map((k) => p + k).sort());
      expect(await sorted(`${p}b/a`)).toEqual(['b/a1', 'b/ab/x'].map((k) => p + k).sort());
      expect(await sorted(`${p}zz`)).toEqual([]);
      expect(await sorted(`${p}ab/d/e`)).toEqual([`${p}ab/d/e`]);
      expect(await sorted(`${p.slice(0, -1)}-nope/`)).toEqual([]);
    });

    it(`lists ${manyKeys} keys (more than one page) exactly once each`, async () => {
      const p = fresh();
      const names = Array.from({ length: manyKeys }, (_, i) => `m/${String(i % 7)}/${i.toString(16).padStart(5, '0')}`);
      await mapLimit(names, 32, (n) => b.put(key(n), Buffer.from(n)));
      await b.put(key('outside'), Buffer.from('x'));
      const listed = await listAll(b, `${p}m/`);
      expect(listed.length).toBe(manyKeys);
      expect(new Set(listed).size).toBe(manyKeys);
      expect(new Set(listed)).toEqual(new Set(names.map((n) => p + n)));
    });

    it('round-trips keys with spaces, URL metacharacters and non-ASCII, and lists them back verbatim', async () => {
      const p = fresh();
      const all = ['sp ace/x', 'pct%25/%2F', 'hash#/q?x=1&y=2', 'plus+/tilde~/eq=', 'ü/€/日本', "quote'/\"dq\"", 'semi;colon:', 'brackets[]{}()', '@at!$*,'];
      const refused = opts.refusedNameChars ? all.filter((k) => opts.refusedNameChars!.test(k)) : [];
      for (const k of refused) {
        const err = await rejection(b.put(key(k), Buffer.from(k)));
        expect(err).toBeInstanceOf(UserErrorInvalidStorageKey);
        expect((err as Error).message).toContain('refuses the name');
      }
      const odd = all.filter((k) => !refused.includes(k));
      for (const k of odd) await b.put(key(k), Buffer.from(k));
      expect((await listAll(b, p)).sort()).toEqual(odd.map((k) => p + k).sort());
      for (const k of odd) {
        expect((await readAll(await b.get(key(k)))).toString()).toBe(k);
        expect((await b.stat(key(k))).sizeBytes).toBe(Buffer.byteLength(k));
      }
      expect(await listAll(b, `${p}ü/`)).toEqual([`${p}ü/€/日本`]);
      for (const k of odd) await b.delete(key(k));
      expect(await listAll(b, p)).toEqual([]);
    });

    it('deletes idempotently', async () => {
      fresh();
      await b.put(key('d'), Buffer.from('x'));
      await b.delete(key('d'));
      expect(await rejection(b.get(key('d')))).toBeInstanceOf(StorageErrorNotFound);
      await b.delete(key('d'));
      await b.delete(key('never-was'));
      expect(await listAll(b, prefix)).toEqual([]);
    });

    it('refuses invalid keys and prefixes with UserErrorInvalidStorageKey on every verb', async () => {
      fresh();
      for (const bad of ['', '/abs', 'a/../b', 'a//b', 'a\\b', 'nul\u0000', 'trailing/']) {
        const k = bad as StorageKey;
        for (const p of [b.put(k, Buffer.from('x')), b.get(k), b.stat(k), b.delete(k)]) {
          const err = await rejection(p);
          expect(err).toBeInstanceOf(UserErrorInvalidStorageKey);
        }
      }
      for (const bad of ['/', '../x', 'a//']) {
        expect(await rejection(listAll(b, bad))).toBeInstanceOf(UserErrorInvalidStorageKey);
      }
    });

    it('a download stops with an error when its signal aborts', async () => {
      fresh();
      await b.put(key('long'), randomBytes(3 * 1024 * 1024));
      const ac = new AbortController();
      const stream = await b.get(key('long'), undefined, ac.signal);
      let got = 0;
      const reading = (async () => {
        for await (const c of stream) {
          got += (c as Buffer).length;
          if (got > 0 && !ac.signal.aborted) ac.abort();
        }
      })();
      expect(await rejection(reading)).toBeInstanceOf(Error);
      expect(got).toBeLessThan(3 * 1024 * 1024);
    });

    it('a ranged download with an aborted signal fails, and a live one returns exactly the range', async () => {
      fresh();
      const data = randomBytes(256 * 1024);
      await b.put(key('ranged'), data);
      const ac = new AbortController();
      ac.abort();
      expect(await rejection((async () => readAll(await b.get(key('ranged'), { offset: 10, length: 1000 }, ac.signal)))())).toBeInstanceOf(Error);
      const live = new AbortController();
      expect(await readAll(await b.get(key('ranged'), { offset: 100_000, length: 200_000 }, live.signal))).toEqual(data.subarray(100_000, 256 * 1024));
    });

    it('many concurrent puts and gets may share one signal without a listener-leak warning', async () => {
      fresh();
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
      process.on('warning', onWarning);
      try {
        const ac = new AbortController();
        await Promise.all(
          Array.from({ length: 24 }, (_, i) => b.put(key(`shared-signal/${i}`), i % 2 ? Buffer.from(`b${i}`) : slowReadable(Buffer.from(`r${i}`)), { signal: ac.signal })),
        );
        const streams = await Promise.all(Array.from({ length: 24 }, (_, i) => b.get(key(`shared-signal/${i}`), undefined, ac.signal)));
        expect((await Promise.all(streams.map(readAll))).map(String)).toEqual(Array.from({ length: 24 }, (_, i) => (i % 2 ? `b${i}` : `r${i}`)));
        await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      } finally {
        process.off('warning', onWarning);
      }
      expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
      expect(await listAll(b, `${prefix}shared-signal/`)).toHaveLength(24);
    });

    it('an aborted put leaves nothing behind', async () => {
      const p = fresh();
      const ac = new AbortController();
      let sent = 0;
      const body = new Readable({
        read() {
          setImmediate(() => {
            sent += 64 * 1024;
            this.push(randomBytes(64 * 1024));
            if (sent >= 512 * 1024) ac.abort();
          });
        },
      });
      const err = await rejection(b.put(key('aborted'), body, { signal: ac.signal }));
      expect(err).toBeInstanceOf(Error);
      expect(await rejection(b.stat(key('aborted')))).toBeInstanceOf(StorageErrorNotFound);
      expect(await listAll(b, p)).toEqual([]);
      const pre = new AbortController();
      pre.abort();
      await rejection(b.put(key('pre-aborted'), Buffer.from('x'), { signal: pre.signal }));
      expect(await listAll(b, p)).toEqual([]);
    });

    it('a put whose body fails leaves nothing behind and keeps an older object', async () => {
      const p = fresh();
      await b.put(key('keep'), Buffer.from('old'));
      const failing = (): Readable => {
        let n = 0;
        return new Readable({
          read() {
            setImmediate(() => {
              if (n++ < 4) this.push(randomBytes(32 * 1024));
              else this.destroy(new Error('producer died'));
            });
          },
        });
      };
      expect(await rejection(b.put(key('broken'), failing()))).toBeInstanceOf(Error);
      expect(await rejection(b.put(key('keep'), failing()))).toBeInstanceOf(Error);
      expect(await listAll(b, p)).toEqual([key('keep')]);
      expect((await readAll(await b.get(key('keep')))).toString()).toBe('old');
    });
  });
}
