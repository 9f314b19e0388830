/** Content-defined chunking, FastCDC with a 32-bit gear hash and normalized cut masks (vault-format.md §5).
 *  Pure and streaming: push() bytes in any read sizes, get whole chunks out; boundaries depend only on the
 *  bytes. The hot loop (gear-scan.ts, WebAssembly) allocates nothing; it must never change its cut rule (stored
 *  data depends on it). */
import { gearScanner } from './gear-scan.ts';

export interface ChunkerParams {
  minBytes: number;
  avgBytes: number;
  maxBytes: number;
}

export const defaultChunkerParams: ChunkerParams = { minBytes: 512 * 1024, avgBytes: 1024 * 1024, maxBytes: 8 * 1024 * 1024 };

/** A mask of the `bits` high bits of a 32-bit word. */
function highBits(bits: number): number {
  return bits <= 0 ? 0 : (0xffffffff << (32 - bits)) | 0;
}

/** Splits a stream into chunks. Not thread-safe; one instance per stream. Emitted buffers are owned by the caller. */
export class Chunker {
  readonly #gear: Uint32Array;
  readonly #min: number;
  readonly #avg: number;
  readonly #max: number;
  readonly #maskHard: number;
  readonly #maskEasy: number;
  /** Bytes of the current chunk not yet emitted, as views into pushed buffers. */
  #parts: Uint8Array[] = [];
  readonly #scanner = gearScanner();
  #len = 0;
  #h = 0;

  constructor(gear: Uint32Array, params: ChunkerParams = defaultChunkerParams) {
    if (gear.length !== 256) throw new RangeError('gear table must have 256 entries');
    if (!(params.minBytes > 0 && params.minBytes <= params.avgBytes && params.avgBytes <= params.maxBytes)) {
      throw new RangeError('chunker needs 0 < minBytes <= avgBytes <= maxBytes');
    }
    const avgBits = Math.log2(params.avgBytes);
    if (!Number.isInteger(avgBits) || avgBits < 4 || avgBits > 28) throw new RangeError('avgBytes must be a power of two between 2^4 and 2^28');
    // Normalization level 2: two bits harder before the average, two easier after (22 and 18 for 1 MiB).
    this.#maskHard = highBits(avgBits + 2);
    this.#maskEasy = highBits(avgBits - 2);
    this.#gear = gear;
    this.#min = params.minBytes;
    this.#avg = params.avgBytes;
    this.#max = params.maxBytes;
  }

  /** Feeds bytes; returns the chunks completed by them (possibly none), each in its own new buffer. The caller
   *  must not modify `data` afterwards. */
  push(data: Uint8Array): Buffer[] {
    return this.pushParts(data).map(concatParts);
  }

  /** push() without copying: each completed chunk as the views into pushed buffers that make it up, in order.
   *  The views stay valid as long as the caller leaves the pushed buffers alone. */
  pushParts(data: Uint8Array): Uint8Array[][] {
    const out: Uint8Array[][] = [];
    const gear = this.#gear;
    const min = this.#min;
    const avg = this.#avg;
    const max = this.#max;
    const maskHard = this.#maskHard;
    const maskEasy = this.#maskEasy;
    const scanner = this.#scanner;
    const n = data.length;
    let off = 0;
    while (off < n) {
      let i = off;
      /** Chunk position of data[i]. */
      let pos = this.#len;
      if (pos < min) {
        // Bytes before minBytes are never hashed (FastCDC's skip).
        const skip = Math.min(min - pos, n - off);
        i += skip;
        pos += skip;
        if (pos < min) {
          this.#take(data, off, n);
          break;
        }
      }
      let h = this.#h;
      let cut = -1;
      if (pos < avg) {
        const end = Math.min(n, i + (avg - pos));
        cut = scanner.scan(gear, data, i, end, h, maskHard);
        h = scanner.h;
        i = cut < 0 ? end : cut;
        pos = this.#len + (i - off);
      }
      if (cut < 0 && pos >= avg) {
        const end = Math.min(n, i + (max - pos));
        cut = scanner.scan(gear, data, i, end, h, maskEasy);
        h = scanner.h;
        i = cut < 0 ? end : cut;
        if (cut < 0 && this.#len + (i - off) === max) cut = i;
      }
      if (cut < 0) {
        this.#h = h;
        this.#take(data, off, n);
        break;
      }
      this.#take(data, off, cut);
      out.push(this.#emit());
      off = cut;
    }
    return out;
  }

  /** Ends the stream: returns the last, possibly short chunk (none for an empty remainder). */
  finish(): Buffer[] {
    return this.finishParts().map(concatParts);
  }

  /** finish() without copying, as views (see pushParts). */
  finishParts(): Uint8Array[][] {
    return this.#len === 0 ? [] : [this.#emit()];
  }

  #take(data: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    const parts = this.#parts;
    const prev = parts[parts.length - 1];
    // Bytes that continue the previous part in the same buffer (a caller writing into slabs) extend it.
    if (prev && prev.buffer === data.buffer && prev.byteOffset + prev.length === data.byteOffset + from) {
      parts[parts.length - 1] = new Uint8Array(prev.buffer, prev.byteOffset, prev.length + (to - from));
    } else parts.push(data.subarray(from, to));
    this.#len += to - from;
  }

  #emit(): Uint8Array[] {
    const parts = this.#parts;
    this.#parts = [];
    this.#len = 0;
    this.#h = 0;
    return parts;
  }
}

/** One owned buffer holding the parts in order (chunks sent to other threads must own their memory). */
export function concatParts(parts: readonly Uint8Array[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  const chunk = Buffer.allocUnsafeSlow(n);
  let at = 0;
  for (const p of parts) {
    chunk.set(p, at);
    at += p.length;
  }
  return chunk;
}
