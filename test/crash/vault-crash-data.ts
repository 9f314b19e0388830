/** Shared by the crash test and its child: the deterministic content of an entry from its block names, and the
 *  small chunk and pack sizes that make a few hundred KiB span many chunks and packs. */
import type { ChunkerParams, WriterTuning } from '../../src/vault/index.ts';
import { seededBytes } from '../../src/vault/testing/test-data.ts';

export const crashChunker: ChunkerParams = { minBytes: 2 * 1024, avgBytes: 8 * 1024, maxBytes: 32 * 1024 };
export const crashTuning: Partial<WriterTuning> = { packTargetBytes: 48 * 1024, maxInflightChunks: 4, maxPackUploads: 3 };

/** Each block is 8–40 KiB determined by its name: random bytes, or compressible rows for every third name. */
export function crashBlocks(names: readonly string[]): Buffer {
  return Buffer.concat(
    names.map((n) => {
      const k = Number.parseInt(n.replace(/\D/g, '').slice(-4) || '0', 10);
      const size = 8 * 1024 + (k % 33) * 1024;
      if (k % 3 === 0) return Buffer.from(`${n}\t${k}\t{"row": ${k}, "note": "compressible"}\n`.repeat(size / 32)).subarray(0, size);
      return seededBytes(size, n);
    }),
  );
}
