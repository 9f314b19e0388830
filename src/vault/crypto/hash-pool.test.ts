/** The hash worker computes exactly the keyed chunk ids and the entry SHA-256 that the format defines, from
 *  segments of any size with chunk ends anywhere in them, for several streams at once. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { seededBytes } from '../testing/test-data.ts';
import { HashPool } from './hash-pool.ts';

const idKey = randomBytes(32);
const pool = new HashPool(idKey);
afterAll(() => pool.close());

function shared(b: Uint8Array): Uint8Array {
  const v = new Uint8Array(new SharedArrayBuffer(b.length));
  v.set(b);
  return v;
}

describe('HashPool', () => {
  it('gives the HMAC of every chunk and the SHA-256 of the stream, whatever the segment and chunk ends', async () => {
    const data = seededBytes(300_000, 'h');
    const chunkEnds = [1, 4_000, 4_001, 100_000, 250_000, 300_000];
    const segEnds = [10, 4_000, 150_000, 299_999, 300_000];
    const expected = chunkEnds.map((end, i) => createHmac('sha256', idKey).update(data.subarray(i === 0 ? 0 : chunkEnds[i - 1], end)).digest('hex'));
    // Two streams interleaved: state is per stream.
    const s1 = pool.stream();
    const s2 = pool.stream();
    const ids: string[] = [];
    let start = 0;
    let sha: string | undefined;
    for (const [k, end] of segEnds.entries()) {
      const cuts = chunkEnds.filter((c) => c > start && c <= end).map((c) => c - start);
      const last = k === segEnds.length - 1;
      const [h] = await Promise.all([s1.segment(shared(data.subarray(start, end)), cuts, last), s2.segment(shared(Buffer.from('other')), [], false)]);
      ids.push(...h.ids);
      if (last) sha = h.sha256;
      start = end;
    }
    expect(ids).toEqual(expected);
    expect(sha).toBe(createHash('sha256').update(data).digest('hex'));
    await s2.drop();
  });

  it('hashes an empty stream, and a last chunk ending where the previous segment ended', async () => {
    const empty = await pool.stream().segment(shared(Buffer.alloc(0)), [], true);
    expect(empty).toEqual({ ids: [], sha256: createHash('sha256').digest('hex') });
    const s = pool.stream();
    const data = seededBytes(1000, 'e');
    expect((await s.segment(shared(data), [400])).ids).toEqual([createHmac('sha256', idKey).update(data.subarray(0, 400)).digest('hex')]);
    const end = await s.segment(shared(Buffer.alloc(0)), [0], true);
    expect(end.ids).toEqual([createHmac('sha256', idKey).update(data.subarray(400)).digest('hex')]);
    expect(end.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('refuses a segment that is not shared memory', async () => {
    await expect(pool.stream().segment(Buffer.from('x'), [], true)).rejects.toThrow(/SharedArrayBuffer/);
  });
});
