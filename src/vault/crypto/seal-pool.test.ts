/** The seal workers produce the format's envelopes: open() of envelope.ts authenticates them under the blob's
 *  associated data, the codec byte says zstd for compressible chunks and none for incompressible ones, the
 *  payload decompresses to the chunk, nonces differ, and a wrong associated data fails authentication. */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CompressionId, decompress } from '../compression/codec.ts';
import { IntegrityErrorAuthenticationFailed } from '../errors.ts';
import { associatedData, open } from './envelope.ts';
import { releaseEnvelope, SealPool } from './seal-pool.ts';

const key = randomBytes(32);
const pool = new SealPool(key, 2);
afterAll(() => pool.close());

/** A chunk as the save path hands it over: a view over shared memory. */
function shared(b: Uint8Array): Uint8Array[] {
  const v = new Uint8Array(new SharedArrayBuffer(b.length));
  v.set(b);
  return [v];
}
const seal = async (aad: string, chunk: Uint8Array): Promise<Buffer> => Buffer.concat(await pool.sealShared(aad, shared(chunk)));

describe('SealPool', () => {
  it('seals compressible and incompressible chunks into envelopes that open() reads back', async () => {
    const text = Buffer.from('COPY app.orders (id, note) FROM stdin;\n'.repeat(40_000));
    const noise = randomBytes(300_000);
    const [a, b, a2] = await Promise.all([
      seal(associatedData.blob('aa'.repeat(32)), text),
      seal(associatedData.blob('bb'.repeat(32)), noise),
      seal(associatedData.blob('aa'.repeat(32)), text),
    ]);
    const pa = open(key, associatedData.blob('aa'.repeat(32)), a, 'a');
    expect(pa[0]).toBe(CompressionId.zstd);
    expect(a.length).toBeLessThan(text.length / 10);
    expect(decompress(pa[0]!, pa.subarray(1)).equals(text)).toBe(true);
    const pb = open(key, associatedData.blob('bb'.repeat(32)), b, 'b');
    expect(pb[0]).toBe(CompressionId.none);
    expect(pb.subarray(1).equals(noise)).toBe(true);
    expect(a.subarray(0, 12).equals(a2.subarray(0, 12))).toBe(false); // a fresh nonce per envelope
    expect(() => open(key, associatedData.blob('bb'.repeat(32)), a, 'a')).toThrow(IntegrityErrorAuthenticationFailed);
  });

  it('seals a chunk given as views over shared memory, in pieces, read in place', async () => {
    const text = Buffer.from('INSERT INTO app.events VALUES (1);\n'.repeat(20_000));
    const sab = new SharedArrayBuffer(text.length + 100);
    const all = new Uint8Array(sab);
    all.set(text, 100);
    const parts = [new Uint8Array(sab, 100, 300_000), new Uint8Array(sab, 100 + 300_000, text.length - 300_000)];
    const pieces = await pool.sealShared(associatedData.blob('dd'.repeat(32)), parts);
    expect(pieces).toHaveLength(3);
    const p = open(key, associatedData.blob('dd'.repeat(32)), Buffer.concat(pieces), 'd');
    expect(p[0]).toBe(CompressionId.zstd);
    expect(decompress(p[0]!, p.subarray(1)).equals(text)).toBe(true);
    expect(Buffer.from(all.subarray(100)).equals(text)).toBe(true); // the caller's bytes are untouched
    await expect(pool.sealShared(associatedData.blob('dd'.repeat(32)), [Buffer.from(text)])).rejects.toThrow(/SharedArrayBuffer/);
  });

  it('releaseEnvelope frees the pieces of an envelope once copied, and leaves views into shared pools alone', async () => {
    const text = Buffer.from('SELECT 1;\n'.repeat(50_000));
    const pieces = await pool.sealShared(associatedData.blob('ee'.repeat(32)), shared(text));
    const copy = Buffer.concat(pieces);
    const pooled = Buffer.from('a small pooled buffer'); // a view into Node's shared 8 KiB pool
    releaseEnvelope([...pieces, pooled]);
    for (const p of pieces) {
      expect(p.buffer.byteLength).toBe(0); // detached: the memory is no longer this wrapper's
      expect(p.length).toBe(0);
    }
    expect(pooled.toString()).toBe('a small pooled buffer');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const p = open(key, associatedData.blob('ee'.repeat(32)), copy, 'e'); // the copy made before is intact
    expect(decompress(p[0]!, p.subarray(1)).equals(text)).toBe(true);
  });
});
