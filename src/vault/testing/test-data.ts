/** Test data for the vault's tests and benchmarks: deterministic pseudo-random bytes from a seed (AES-128-CTR
 *  keystream) and small vault parameters so that multi-chunk cases stay quick. Test-only: never imported by
 *  production code. */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ChunkerParams } from '../chunker/chunker.ts';
import type { ScryptParams } from '../crypto/master-key.ts';

/** n bytes fully determined by `seed`. */
export function seededBytes(n: number, seed: string | number): Buffer {
  const key = createHash('sha256').update(`pgvault-test-${seed}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

/** Chunks of 4–64 KiB, ~16 KiB average: multi-chunk streams in tens of KiB. */
export const smallChunker: ChunkerParams = { minBytes: 4 * 1024, avgBytes: 16 * 1024, maxBytes: 64 * 1024 };

/** Cheap scrypt for tests (the format records the parameters per key file). */
export const cheapKdf: ScryptParams = { N: 1024, r: 8, p: 1 };

/** A stream over `data` in pieces of `pieceBytes`. */
export function streamOf(data: Buffer, pieceBytes = 64 * 1024): Readable {
  const pieces: Buffer[] = [];
  for (let o = 0; o < data.length; o += pieceBytes) pieces.push(data.subarray(o, o + pieceBytes));
  return Readable.from(pieces, { objectMode: false });
}

export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
