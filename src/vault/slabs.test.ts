/** Staging slabs: bytes copied in come back as views over SharedArrayBuffers, crossing slabs where they must;
 *  a full set of slabs makes write() wait until bytes are settled, then reuses a slab; a failure wakes it. */
import { describe, expect, it } from 'vitest';
import { seededBytes } from './testing/test-data.ts';
import { Slabs } from './slabs.ts';

describe('Slabs', () => {
  it('copies bytes into shared slabs and returns views that hold them, split where a slab ends', async () => {
    const slabs = new Slabs({ slabBytes: 1000, maxBytes: 4000, maxChunkBytes: 1000 });
    const a = seededBytes(700, 'a');
    const b = seededBytes(700, 'b');
    const va = await slabs.write(a);
    const vb = await slabs.write(b);
    expect(va).toHaveLength(1);
    expect(vb.map((v) => v.length)).toEqual([300, 400]);
    for (const v of [...va, ...vb]) expect(v.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Buffer.concat([...va, ...vb]).equals(Buffer.concat([a, b]))).toBe(true);
    expect(vb[0]!.buffer).toBe(va[0]!.buffer);
    expect(vb[1]!.buffer).not.toBe(va[0]!.buffer);
  });

  it('waits for settled bytes when every slab is in use, then reuses one', async () => {
    const slabs = new Slabs({ slabBytes: 100, maxBytes: 400, maxChunkBytes: 100 });
    const held: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) held.push(...(await slabs.write(seededBytes(100, i))));
    expect(slabs.allocated).toBe(slabs.maxSlabs);
    let done = false;
    const fifth = slabs.write(seededBytes(50, 'x')).then((v) => {
      done = true;
      return v;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false); // nothing settled: no slab to write into
    slabs.settle(held.slice(0, 1));
    const v = await fifth;
    expect(v[0]!.buffer).toBe(held[0]!.buffer); // the settled slab, reused
    expect(slabs.allocated).toBe(slabs.maxSlabs);
    expect(Buffer.from(v[0]!).equals(seededBytes(50, 'x'))).toBe(true);
  });

  it('keeps room for the largest chunk whatever maxBytes says', () => {
    const slabs = new Slabs({ slabBytes: 1 << 20, maxBytes: 1 << 20, maxChunkBytes: 8 << 20 });
    expect(slabs.maxSlabs).toBeGreaterThanOrEqual(8 + 2);
  });

  it('fails a waiting write when the save fails elsewhere, and every later one', async () => {
    const slabs = new Slabs({ slabBytes: 100, maxBytes: 100, maxChunkBytes: 1 });
    for (let i = 0; i < slabs.maxSlabs; i++) await slabs.write(seededBytes(100, i));
    const waiting = slabs.write(seededBytes(10, 'y'));
    slabs.fail(new Error('pack upload failed'));
    await expect(waiting).rejects.toThrow('pack upload failed');
    await expect(slabs.write(seededBytes(10, 'z'))).rejects.toThrow('pack upload failed');
  });
});
