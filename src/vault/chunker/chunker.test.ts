/** Chunker: golden boundaries for a seeded input (they pin the format: stored data depends on them) and
 *  properties: chunks concatenate to the input, boundaries do not depend on read sizes, bounds hold,
 *  and an insertion changes only nearby chunks. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededBytes, smallChunker } from '../testing/test-data.ts';
import { Chunker, defaultChunkerParams, type ChunkerParams } from './chunker.ts';
import { gearTable } from './gear-table.ts';

const zeroSeedGear = gearTable(new Uint8Array(32));

function chunkAll(data: Uint8Array, params: ChunkerParams, pieces: number[] = [data.length]): Buffer[] {
  const c = new Chunker(zeroSeedGear, params);
  const out: Buffer[] = [];
  let off = 0;
  let i = 0;
  while (off < data.length) {
    const n = Math.max(1, pieces[i++ % pieces.length]!);
    out.push(...c.push(data.subarray(off, off + n)));
    off += n;
  }
  out.push(...c.finish());
  return out;
}

describe('gear table', () => {
  it('matches the golden values for the all-zero seed (HMAC-SHA-256 derivation, little-endian)', () => {
    expect(Array.from(zeroSeedGear.slice(0, 4), (x) => x.toString(16))).toEqual(['ca9878d5', 'b1677ca7', 'f31f69ce', '42f136d4']);
    expect(zeroSeedGear[255]!.toString(16)).toBe('a0cf693d');
  });
});

describe('Chunker golden vectors (seeded input "golden", zero-seed gear)', () => {
  it('cuts 12 MiB at the recorded boundaries with the default 512 KiB / 1 MiB / 8 MiB parameters', () => {
    const lens = chunkAll(seededBytes(12 << 20, 'golden'), defaultChunkerParams, [1 << 16]).map((c) => c.length);
    expect(lens).toEqual([1219410, 2033225, 1164113, 606226, 1253202, 1208546, 1584405, 1175097, 1266068, 1072620]);
  });

  it('cuts 300 KiB at the recorded boundaries with small test parameters', () => {
    const lens = chunkAll(seededBytes(300 << 10, 'golden'), smallChunker, [4096]).map((c) => c.length);
    expect(lens).toEqual([20753, 19678, 20335, 21286, 18150, 18069, 15896, 18749, 11917, 5052, 21526, 19886, 20810, 17402, 11266, 7750, 18477, 12695, 7503]);
  });
});

describe('Chunker properties', () => {
  const params: ChunkerParams = { minBytes: 256, avgBytes: 1024, maxBytes: 4096 };

  it('chunks concatenate to the input and respect the bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40_000 }), (data) => {
        const chunks = chunkAll(data, params);
        expect(Buffer.concat(chunks).equals(Buffer.from(data))).toBe(true);
        chunks.forEach((c, i) => {
          expect(c.length).toBeLessThanOrEqual(params.maxBytes);
          if (i < chunks.length - 1) expect(c.length).toBeGreaterThanOrEqual(params.minBytes);
          expect(c.length).toBeGreaterThan(0);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('boundaries do not depend on read sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 20 }), (seed, pieces) => {
        const data = seededBytes(30_000 + seed * 37, seed);
        const whole = chunkAll(data, params).map((c) => c.length);
        expect(chunkAll(data, params, pieces).map((c) => c.length)).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('low-entropy input is cut at maxBytes', () => {
    const lens = chunkAll(Buffer.alloc(20_000), params).map((c) => c.length);
    expect(lens.slice(0, -1).every((l) => l === params.maxBytes)).toBe(true);
  });

  it('an insertion in the middle changes only the chunks around it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.uint8Array({ minLength: 1, maxLength: 100 }), (seed, insert) => {
        const data = seededBytes(200_000, `ins-${seed}`);
        const at = 50_000 + (seed % 100_000);
        const edited = Buffer.concat([data.subarray(0, at), insert, data.subarray(at)]);
        const before = new Set(chunkAll(data, params).map((c) => c.toString('base64')));
        const after = chunkAll(edited, params);
        const changed = after.filter((c) => !before.has(c.toString('base64')));
        const changedBytes = changed.reduce((a, c) => a + c.length, 0);
        // Normally one or two chunks. Normalized chunking can cascade a little further (a shifted chunk start
        // moves later cut points between the hard and easy mask regions), so the bound is 8 max-size chunks of
        // a 200 kB stream: the rest of the stream is unchanged.
        expect(changedBytes).toBeLessThanOrEqual(8 * params.maxBytes);
        expect(after.length).toBeGreaterThan(40);
      }),
      { numRuns: 30 },
    );
  });

  it('rejects parameters that are not ordered or an average that is not a power of two', () => {
    expect(() => new Chunker(zeroSeedGear, { minBytes: 10, avgBytes: 5, maxBytes: 20 })).toThrow(RangeError);
    expect(() => new Chunker(zeroSeedGear, { minBytes: 10, avgBytes: 1000, maxBytes: 2000 })).toThrow(RangeError);
    expect(() => new Chunker(new Uint32Array(3))).toThrow(RangeError);
  });
});
