/** Pack files: concatenated blob envelopes, then the encrypted header, then the header's length as u32 LE
 *  (vault-format.md §7). Pure: builds and parses bytes. A pack is never modified once written. */
import { CompressionId } from '../compression/codec.ts';
import { associatedData, open, seal } from '../crypto/envelope.ts';
import { IntegrityErrorMalformedObject } from '../errors.ts';

export interface PackBlob {
  id: string;
  /** Offset of the blob's envelope in the pack. */
  offset: number;
  /** Envelope length. */
  length: number;
  /** Chunk plaintext length. */
  rawLength: number;
}

const headerVersion = 1;
const entryBytes = 32 + 4 + 4 + 4;

export function encodePackHeader(dataKey: Uint8Array, packId: string, blobs: readonly PackBlob[], nonce?: Uint8Array): Buffer {
  const body = Buffer.alloc(1 + 4 + blobs.length * entryBytes);
  body.writeUInt8(headerVersion, 0);
  body.writeUInt32LE(blobs.length, 1);
  let p = 5;
  for (const b of blobs) {
    body.write(b.id, p, 32, 'hex');
    body.writeUInt32LE(b.offset, p + 32);
    body.writeUInt32LE(b.length, p + 36);
    body.writeUInt32LE(b.rawLength, p + 40);
    p += entryBytes;
  }
  const header = seal(dataKey, associatedData.packHeader(packId), [Buffer.of(CompressionId.none), body], nonce);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length, 0);
  return Buffer.concat([header, len]);
}

/** Parses the header envelope (without the trailing length). */
export function decodePackHeader(dataKey: Uint8Array, packId: string, header: Uint8Array): PackBlob[] {
  const what = `header of pack "${packId}"`;
  const plain = open(dataKey, associatedData.packHeader(packId), header, what);
  if (plain.length < 6 || plain[0] !== CompressionId.none || plain[1] !== headerVersion) throw new IntegrityErrorMalformedObject(what, 'unknown codec or version');
  const count = plain.readUInt32LE(2);
  if (plain.length !== 6 + count * entryBytes) throw new IntegrityErrorMalformedObject(what, 'length does not match its blob count');
  const blobs: PackBlob[] = [];
  let p = 6;
  for (let i = 0; i < count; i++) {
    blobs.push({
      id: plain.toString('hex', p, p + 32),
      offset: plain.readUInt32LE(p + 32),
      length: plain.readUInt32LE(p + 36),
      rawLength: plain.readUInt32LE(p + 40),
    });
    p += entryBytes;
  }
  return blobs;
}

/** Builds one pack in memory, bounded by the writer's target size. */
export class PackBuilder {
  readonly id: string;
  readonly blobs: PackBlob[] = [];
  #parts: Buffer[] = [];
  #size = 0;

  constructor(id: string) {
    this.id = id;
  }

  get sizeBytes(): number {
    return this.#size;
  }

  /** Appends a blob's envelope, given whole or as its pieces in order. */
  add(blobId: string, envelope: Buffer | readonly Buffer[], rawLength: number): PackBlob {
    const pieces = Buffer.isBuffer(envelope) ? [envelope] : envelope;
    let length = 0;
    for (const p of pieces) length += p.length;
    const b = { id: blobId, offset: this.#size, length, rawLength };
    this.blobs.push(b);
    this.#parts.push(...pieces);
    this.#size += length;
    return b;
  }

  /** The complete pack as its pieces in order (blobs, header, trailer), uncopied; the builder must not be used afterwards. */
  finishParts(dataKey: Uint8Array): { parts: Buffer[]; sizeBytes: number } {
    const header = encodePackHeader(dataKey, this.id, this.blobs);
    const parts = [...this.#parts, header];
    this.#parts = [];
    return { parts, sizeBytes: this.#size + header.length };
  }

  /** The complete pack bytes in one buffer. */
  finish(dataKey: Uint8Array): Buffer {
    return Buffer.concat(this.finishParts(dataKey).parts);
  }
}
