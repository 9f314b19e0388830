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
    expect(pieces).toHaveLength(3); // head, one payload piece (it compresses below 256 KiB), tail
    const p = open(key, associatedData.blob('dd'.repeat(32)), Buffer.concat(pieces), 'd');
    expect(p[0]).toBe(CompressionId.zstd);
    expect(decompress(p[0]!, p.subarray(1)).equals(text)).toBe(true);
    expect(Buffer.from(all.subarray(100)).equals(text)).toBe(true); // the caller's bytes are untouched
    await expect(pool.sealShared(associatedData.blob('dd'.repeat(32)), [Buffer.from(text)])).rejects.toThrow(/SharedArrayBuffer/);
  });

  it('streams a chunk of several MiB across its parts into 256 KiB pieces, and stores one that stops compressing as it is', async () => {
    // Several MiB that compress about 2:1, crossing three slabs: more than one payload piece.
    const rows = Array.from({ length: 60_000 }, (_, i) => `${i}\t${randomBytes(24).toString('hex')}\tshipped\n`).join('');
    const text = Buffer.from(rows);
    expect(text.length).toBeGreaterThan(3 * 1024 * 1024);
    const sab = new SharedArrayBuffer(text.length);
    const all = new Uint8Array(sab);
    all.set(text);
    const cuts = [0, 1_000_000, 2_500_000, text.length];
    const parts = cuts.slice(1).map((end, i) => new Uint8Array(sab, cuts[i]!, end - cuts[i]!));
    const pieces = await pool.sealShared(associatedData.blob('ff'.repeat(32)), parts);
    expect(pieces.length).toBeGreaterThan(4); // head, several payload pieces, tail
    for (const p of pieces.slice(1, -2)) expect(p.length).toBe(256 * 1024);
    const p = open(key, associatedData.blob('ff'.repeat(32)), Buffer.concat(pieces), 'f');
    expect(p[0]).toBe(CompressionId.zstd);
    expect(p.length).toBeLessThan(text.length * 0.7);
    expect(decompress(p[0]!, p.subarray(1)).equals(text)).toBe(true);
    // 40 KB that compress to almost nothing, then 3 MiB of random bytes: zstd's output ends just below the chunk's length.
    const mixed = Buffer.concat([Buffer.alloc(40_000, 'a'), randomBytes(3 * 1024 * 1024)]);
    const msab = new SharedArrayBuffer(mixed.length);
    new Uint8Array(msab).set(mixed);
    const q = open(key, associatedData.blob('ab'.repeat(32)), Buffer.concat(await pool.sealShared(associatedData.blob('ab'.repeat(32)), [new Uint8Array(msab, 0, 2_000_000), new Uint8Array(msab, 2_000_000)])), 'm');
    expect(q[0]).toBe(CompressionId.zstd); // 40 KB of 'a' save more than zstd's framing costs
    expect(decompress(q[0]!, q.subarray(1)).equals(mixed)).toBe(true);
    const noise = randomBytes(3 * 1024 * 1024 + 5);
    const nsab = new SharedArrayBuffer(noise.length);
    new Uint8Array(nsab).set(noise);
    const n = open(key, associatedData.blob('ac'.repeat(32)), Buffer.concat(await pool.sealShared(associatedData.blob('ac'.repeat(32)), [new Uint8Array(nsab, 0, 100), new Uint8Array(nsab, 100)])), 'n');
    expect(n[0]).toBe(CompressionId.none);
    expect(n.subarray(1).equals(noise)).toBe(true);
    // The same worker seals the next chunk correctly after giving up on a frame halfway.
    const again = await Promise.all([0, 1].map(() => pool.sealShared(associatedData.blob('ff'.repeat(32)), parts)));
    for (const e of again) expect(decompress(CompressionId.zstd, open(key, associatedData.blob('ff'.repeat(32)), Buffer.concat(e), 'f').subarray(1)).equals(text)).toBe(true);
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
