/** The spare chunk buffers of lending loads: a lent buffer is never much larger than its chunk, only buffers the
 *  vault lent come back, and what is kept stays within the bound, the largest going first. */
import { describe, expect, it } from 'vitest';
import { SpareBuffers } from './vault-context.ts';

const MiB = 1024 * 1024;

/** Lends a buffer for an n-byte chunk and marks it lent (what readChunk does with the buffer the worker returns). */
function lend(s: SpareBuffers, n: number): ArrayBuffer {
  const b = s.take(n);
  s.lent(b);
  return b;
}

describe('SpareBuffers', () => {
  it('allocates in whole MiB and reuses a spare only when it fits with less than 1 MiB to spare', () => {
    const s = new SpareBuffers(64 * MiB);
    const big = lend(s, 7.5 * MiB);
    expect(big.byteLength).toBe(8 * MiB);
    s.give(big);
    const small = lend(s, 512 * 1024);
    expect(small).not.toBe(big);
    expect(small.byteLength).toBe(MiB);
    expect(lend(s, 7.2 * MiB)).toBe(big);
  });

  it('takes back only what it lent, once', () => {
    const s = new SpareBuffers(64 * MiB);
    const foreign = new ArrayBuffer(MiB);
    s.give(foreign);
    expect(s.take(MiB)).not.toBe(foreign);
    const b = lend(s, MiB);
    s.give(b);
    s.give(b);
    expect(lend(s, MiB)).toBe(b);
    expect(lend(s, MiB)).not.toBe(b);
  });

  it('keeps at most its bound, dropping the largest spares first', () => {
    const s = new SpareBuffers(4 * MiB);
    const bufs = [1, 3, 2].map((m) => lend(s, m * MiB));
    for (const b of bufs) s.give(b);
    // 1 + 3 + 2 MiB given back, 4 MiB kept: the 3 MiB one went.
    expect(lend(s, 2 * MiB)).toBe(bufs[2]);
    expect(lend(s, MiB)).toBe(bufs[0]);
    expect(lend(s, 3 * MiB)).not.toBe(bufs[1]);
  });
});
