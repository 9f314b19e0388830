/** The spare chunk buffers of lending loads: a lent buffer is never much larger than its chunk, only buffers the
 *  vault lent come back, and what is kept stays within the bound, the largest going first. */
import { describe, expect, it } from 'vitest';
import { SpareBuffers } from './vault-context.ts';

const MiB = 1024 * 1024;

/** Lends a buffer for an n-byte chunk, filled in place (a worker sends the same memory back). */
async function lend(s: SpareBuffers, n: number): Promise<ArrayBuffer> {
  return (await s.lend(n, async (into) => Buffer.from(into, 0, n))).buffer as ArrayBuffer;
}

describe('SpareBuffers', () => {
  it('allocates in whole MiB and lends a spare only when it fits with less than 1 MiB to spare', async () => {
    const s = new SpareBuffers(64 * MiB);
    const big = await lend(s, 7.5 * MiB);
    expect(big.byteLength).toBe(8 * MiB);
    s.give(big);
    const small = await lend(s, 512 * 1024);
    expect(small).not.toBe(big);
    expect(small.byteLength).toBe(MiB);
    expect(await lend(s, 7.2 * MiB)).toBe(big);
  });

  it('takes back only what it lent, once', async () => {
    const s = new SpareBuffers(64 * MiB);
    const foreign = new ArrayBuffer(MiB);
    s.give(foreign);
    expect(await lend(s, MiB)).not.toBe(foreign);
    const b = await lend(s, MiB);
    s.give(b);
    s.give(b);
    expect(await lend(s, MiB)).toBe(b);
    expect(await lend(s, MiB)).not.toBe(b);
  });

  it('keeps at most its bound, dropping the largest spares first', async () => {
    const s = new SpareBuffers(4 * MiB);
    const bufs = await Promise.all([1, 3, 2].map((m) => lend(s, m * MiB)));
    for (const b of bufs) s.give(b);
    // 1 + 3 + 2 MiB given back, 4 MiB kept: the 3 MiB one went.
    expect(await lend(s, 2 * MiB)).toBe(bufs[2]);
    expect(await lend(s, MiB)).toBe(bufs[0]);
    expect(await lend(s, 3 * MiB)).not.toBe(bufs[1]);
  });
});
