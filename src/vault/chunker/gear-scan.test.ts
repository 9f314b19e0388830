/** The WebAssembly gear scan against the rule written as a plain loop (vault-format.md §5): same cut, same hash,
 *  for any table, mask, starting hash and range, also ranges longer than the module's 1 MiB scratch. */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GearScanner, gearScanModule, wasm } from './gear-scan.ts';
import { gearTable } from './gear-table.ts';

/** The rule itself: the index after the first byte whose hash has all mask bits zero, or -1; and the last hash. */
function reference(gear: Uint32Array, data: Uint8Array, from: number, to: number, h: number, mask: number): { cut: number; h: number } {
  for (let i = from; i < to; i++) {
    h = ((h << 1) + gear[data[i]!]!) | 0;
    if ((h & mask) === 0) return { cut: i + 1, h };
  }
  return { cut: -1, h };
}

const highBits = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) | 0);

describe('GearScanner', () => {
  it('is a valid WebAssembly module', () => {
    expect(wasm.validate(gearScanModule())).toBe(true);
  });

  it('finds the same cut and hash as the plain loop for any table, mask, start hash and range', () => {
    const scanner = new GearScanner();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 20_000 }),
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.nat(),
        fc.nat(),
        (seed, data, bits, h0, a, b) => {
          const gear = gearTable(seed);
          const from = data.length === 0 ? 0 : a % data.length;
          const to = from + (data.length === 0 ? 0 : b % (data.length - from + 1));
          const want = reference(gear, data, from, to, h0, highBits(bits));
          expect(scanner.scan(gear, data, from, to, h0, highBits(bits))).toBe(want.cut);
          expect(scanner.h).toBe(want.h);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('carries the hash across its 1 MiB pieces and switches between tables', () => {
    const scanner = new GearScanner();
    const data = randomBytes(3 * (1 << 20) + 12345);
    const tables = [gearTable(Buffer.alloc(32)), gearTable(Buffer.alloc(32, 7))];
    for (const bits of [32, 24, 20]) {
      for (const gear of [tables[0]!, tables[1]!, tables[0]!]) {
        let at = 1;
        let h = 5;
        for (;;) {
          const want = reference(gear, data, at, data.length, h, highBits(bits));
          const got = scanner.scan(gear, data, at, data.length, h, highBits(bits));
          expect(got).toBe(want.cut);
          expect(scanner.h).toBe(want.h);
          if (got < 0) break;
          at = got;
          h = 0;
        }
      }
    }
  });
});
