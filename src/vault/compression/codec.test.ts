/** Codec round trips by persisted id, and the rule that incompressible data is stored as codec none. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededBytes } from '../testing/test-data.ts';
import { compress, CompressionId, decompress } from './codec.ts';

describe('compression codecs', () => {
  it('keeps the persisted ids', () => {
    expect(CompressionId).toEqual({ none: 0, zstd: 1 });
  });

  it('round-trips any bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 20_000 }), fc.integer({ min: 1, max: 50 }), async (data, repeat) => {
        const plain = Buffer.concat(Array.from({ length: repeat }, () => Buffer.from(data)));
        const c = await compress(plain);
        expect(decompress(c.codec, c.payload).equals(plain)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('compresses repetitive data with zstd and stores random data as it is', async () => {
    const text = Buffer.from('COPY public.accounts (id, name) FROM stdin;\n'.repeat(1000));
    const z = await compress(text);
    expect(z.codec).toBe(CompressionId.zstd);
    expect(z.payload.length).toBeLessThan(text.length / 20);
    const random = seededBytes(100_000, 'random');
    expect((await compress(random)).codec).toBe(CompressionId.none);
  });

  it('rejects an unknown codec id and a damaged frame', () => {
    expect(() => decompress(7, Buffer.from('x'))).toThrow(RangeError);
    expect(() => decompress(CompressionId.zstd, Buffer.from('not a zstd frame'))).toThrow();
  });
});
