/** Pack header encoding: a golden vector (fixed key and nonce) and round trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntegrityErrorAuthenticationFailed } from '../errors.ts';
import { decodePackHeader, encodePackHeader, PackBuilder, packHeaderBytes } from './pack-format.ts';

const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const nonce = Buffer.from(Array.from({ length: 12 }, (_, i) => 0xa0 + i));

describe('pack header', () => {
  it('matches the golden encoding: envelope(codec 0, version 1, count, id|offset|length|rawLength) + u32 LE length', () => {
    const hdr = encodePackHeader(key, 'ab'.repeat(32), [{ id: 'cd'.repeat(32), offset: 0, length: 100, rawLength: 200 }], nonce);
    expect(hdr.toString('hex')).toBe(
      'a0a1a2a3a4a5a6a7a8a9aaabe6197d2d45cbcf72afa84a1ecab70d13bd6194dd5f7a8fa151c3eb4bb266b8cc1fbb8a3262ef533d5f9c60c8097a4bf9471b80d52a620a3bdb64338c6152e44729d24e000000',
    );
    expect(hdr.readUInt32LE(hdr.length - 4)).toBe(hdr.length - 4);
  });

  it('round-trips blob lists and binds the header to its pack id', () => {
    const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(fc.array(fc.record({ id: hex32, offset: u32, length: u32, rawLength: u32 }), { maxLength: 50 }), (blobs) => {
        const packId = 'ef'.repeat(32);
        const hdr = encodePackHeader(key, packId, blobs);
        const body = hdr.subarray(0, hdr.length - 4);
        expect(decodePackHeader(key, packId, body)).toEqual(blobs);
        expect(() => decodePackHeader(key, '01'.repeat(32), body)).toThrow(IntegrityErrorAuthenticationFailed);
      }),
      { numRuns: 50 },
    );
  });

  it('PackBuilder lays blobs out back to back, keeps room for the header and writes it after them in its buffer', () => {
    const buffer = Buffer.alloc(300);
    const b = new PackBuilder('12'.repeat(32), buffer);
    expect(b.room).toBe(300 - packHeaderBytes(1));
    b.add('aa'.repeat(32), Buffer.alloc(40, 1), 100);
    b.add('bb'.repeat(32), [Buffer.alloc(20, 2), Buffer.alloc(30, 2)], 70);
    expect(b.sizeBytes).toBe(90);
    expect(b.room).toBe(300 - 90 - packHeaderBytes(3)); // a third blob's envelope and the header with 3 entries
    expect(() => b.add('cc'.repeat(32), Buffer.alloc(b.room + 1), 11)).toThrow(RangeError);
    expect(b.blobs).toHaveLength(2);
    const pack = b.finish(key);
    expect(pack.buffer).toBe(buffer.buffer); // written in place: one Buffer, no copy
    const hlen = pack.readUInt32LE(pack.length - 4);
    expect(pack.length).toBe(90 + hlen + 4);
    expect(hlen + 4).toBe(packHeaderBytes(2));
    expect(pack.subarray(0, 90)).toEqual(Buffer.concat([Buffer.alloc(40, 1), Buffer.alloc(50, 2)]));
    expect(decodePackHeader(key, '12'.repeat(32), pack.subarray(90, 90 + hlen))).toEqual([
      { id: 'aa'.repeat(32), offset: 0, length: 40, rawLength: 100 },
      { id: 'bb'.repeat(32), offset: 40, length: 50, rawLength: 70 },
    ]);
  });
});
