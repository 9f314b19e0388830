/** Pack files: concatenated blob envelopes, then the encrypted header, then the header's length as u32 LE
 *  (vault-format.md §7). Pure: builds and parses bytes. A pack is never modified once written. */
import { CompressionId } from '../compression/codec.ts';
import { associatedData, minEnvelopeBytes, open, seal } from '../crypto/envelope.ts';
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

/** Bytes of the header and trailer of a pack of `blobCount` blobs: the header's envelope (nonce, codec byte,
 *  tag) around version, count and one entry per blob, then its u32 length. */
export function packHeaderBytes(blobCount: number): number {
  return minEnvelopeBytes + 1 + 4 + blobCount * entryBytes + 4;
}

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

/** Builds one pack in a buffer the caller owns (a writer reuses a few for all its packs: pack-buffers.ts),
 *  header included: envelopes are copied in back to back, always leaving room for the header they need, which
 *  finish() writes after them. The pack is then one Buffer, which a retrying store can send again. The buffer
 *  must stay unchanged until the pack is written. */
export class PackBuilder {
  readonly id: string;
  readonly blobs: PackBlob[] = [];
  readonly buffer: Buffer;
  #size = 0;

  constructor(id: string, buffer: Buffer) {
    this.id = id;
    this.buffer = buffer;
  }

  /** Bytes of envelopes so far. */
  get sizeBytes(): number {
    return this.#size;
  }

  /** Bytes the next envelope may take, keeping room for the header with its entry. */
  get room(): number {
    return Math.max(0, this.buffer.length - this.#size - packHeaderBytes(this.blobs.length + 1));
  }

  /** Copies a blob's envelope in, given whole or as its pieces in order; it must fit in {@link room}. */
  add(blobId: string, envelope: Uint8Array | readonly Uint8Array[], rawLength: number): PackBlob {
    const pieces = envelope instanceof Uint8Array ? [envelope] : envelope;
    let length = 0;
    for (const p of pieces) length += p.length;
    if (length > this.room) throw new RangeError(`an envelope of ${length} bytes does not fit in the ${this.room} bytes left in pack ${this.id}`);
    const b = { id: blobId, offset: this.#size, length, rawLength };
    for (const p of pieces) {
      this.buffer.set(p, this.#size);
      this.#size += p.length;
    }
    this.blobs.push(b);
    return b;
  }

  /** Writes the header after the blobs: the complete pack, a view of the buffer. */
  finish(dataKey: Uint8Array): Buffer {
    const header = encodePackHeader(dataKey, this.id, this.blobs);
    this.buffer.set(header, this.#size);
    return this.buffer.subarray(0, this.#size + header.length);
  }
}
