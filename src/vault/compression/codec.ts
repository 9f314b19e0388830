/** Compression codecs by their persisted id (vault-format.md §10). Compression runs on libuv's thread pool
 *  (@mongodb-js/zstd, async) so it overlaps the main thread's chunking and encryption; decompression uses
 *  zstd-napi (synchronous, ~3 GB/s). Ids are stored in every envelope: never reuse or renumber one. */
import { compress as zstdCompressAsync } from '@mongodb-js/zstd';
import { decompress as zstdDecompressSync } from 'zstd-napi';

export const CompressionId = { none: 0, zstd: 1 /* ids are stored in envelopes: never reuse */ } as const;
export type CompressionId = (typeof CompressionId)[keyof typeof CompressionId];

export const zstdLevel = 3;

export interface Compressed {
  codec: CompressionId;
  payload: Buffer;
}

/** Compresses with zstd; keeps the bytes as they are (codec none) when zstd would not make them smaller. */
export async function compress(plain: Buffer): Promise<Compressed> {
  if (plain.length < 64) return { codec: CompressionId.none, payload: plain };
  const z = await zstdCompressAsync(plain, zstdLevel);
  return z.length < plain.length ? { codec: CompressionId.zstd, payload: z } : { codec: CompressionId.none, payload: plain };
}

/** Decodes a payload by codec id; throws RangeError for an unknown id or a payload that is not a valid frame. */
export function decompress(codec: number, payload: Buffer): Buffer {
  switch (codec) {
    case CompressionId.none:
      return payload;
    case CompressionId.zstd:
      return zstdDecompressSync(payload);
    default:
      throw new RangeError(`unknown compression codec id ${codec}`);
  }
}
