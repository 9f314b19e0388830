/** A streaming parser of pg_dump custom archives: fed bytes in order, it reports the header, the TOC and,
 *  as each data block passes, its dumpId and byte range. Memory stays bounded by the TOC size (schema, not
 *  data): data chunks are skipped in place, never buffered. It never decompresses, seeks or writes. */
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError, type PgvaultErrorOptions } from '../../lib/index.ts';
import {
  ARCH_CUSTOM,
  BLK_BLOBS,
  BLK_DATA,
  K_VERS_1_10,
  K_VERS_1_11,
  K_VERS_1_14,
  K_VERS_1_15,
  K_VERS_1_16,
  MAX_READ_VERSION,
  MIN_READ_VERSION,
  archiveVersion,
  compressionByNumber,
  dataStateByNumber,
  sectionByNumber,
  type ArchiveHeader,
  type DataBlock,
  type TocEntry,
} from './archive-format.ts';

/** The bytes are not a pg_dump custom archive this reader understands, or it ends mid-structure. */
export class IntegrityErrorArchiveMalformed extends IntegrityError {
  constructor(message: string, opts: PgvaultErrorOptions = {}) {
    super(message, {
      hint: 'The stream is not a complete pg_dump custom-format archive (pg_dump -Fc, versions 1.12–1.16). Check that pg_dump exited 0 and that the recovery point passes `check --read-data`.',
      ...opts,
    });
  }
}

/** Callbacks are called synchronously from write(), in stream order. */
export interface ArchiveListener {
  onHeader?(header: ArchiveHeader): void;
  /** The whole TOC has been read; data blocks start at tocEndOffset. */
  onToc?(entries: TocEntry[], tocEndOffset: number): void;
  onBlockStart?(dumpId: number, kind: DataBlock['kind'], offset: number): void;
  onBlockEnd?(block: DataBlock): void;
  /** Payload bytes of a data chunk (compressed if the archive is). The buffer is only valid during the call. */
  onData?(dumpId: number, payload: Buffer): void;
}

export interface ArchiveIndex {
  header: ArchiveHeader;
  toc: TocEntry[];
  /** Length of header + TOC: bytes [0, tocEndOffset) form a valid data-less archive. */
  tocEndOffset: number;
  blocks: DataBlock[];
  totalBytes: number;
}

class NeedMore {
  constructor(readonly upTo: number) {}
}

/** Reads fields from one buffer; throws NeedMore when the buffer ends before the field does. */
class Cursor {
  pos = 0;
  intSize = 4;
  offSize = 8;
  constructor(readonly buf: Buffer) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new NeedMore(this.pos + n);
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** WriteInt: a sign byte, then intSize bytes little-endian. */
  int(): number {
    this.need(1 + this.intSize);
    const sign = this.buf[this.pos++]!;
    let value = 0;
    let mul = 1;
    for (let i = 0; i < this.intSize; i++) {
      value += this.buf[this.pos++]! * mul;
      mul *= 256;
    }
    return sign ? -value : value;
  }
  /** WriteStr: an int length (-1 for NULL), then the bytes. */
  str(): string | null {
    const start = this.pos;
    const len = this.int();
    if (len < 0) return null;
    if (this.pos + len > this.buf.length) {
      const upTo = this.pos + len;
      this.pos = start;
      throw new NeedMore(upTo);
    }
    return this.bytes(len).toString('utf8');
  }
  /** WriteOffset: a K_OFFSET_* flag byte, then offSize bytes little-endian. */
  offset(): { state: number; value: number } {
    this.need(1 + this.offSize);
    const state = this.buf[this.pos++]!;
    let value = 0;
    let mul = 1;
    for (let i = 0; i < this.offSize; i++) {
      value += this.buf[this.pos++]! * mul;
      mul *= 256;
    }
    return { state, value };
  }
}

type Phase = 'header' | 'toc' | 'data' | 'failed';
type IntPurpose = 'blockId' | 'chunkLen' | 'loOid';
type DataState = 'blockType' | 'int' | 'chunk';

/** Push parser: call write(chunk) for every chunk in order, then end(). */
export class ArchiveReader {
  #listener: ArchiveListener;
  #phase: Phase = 'header';
  /** Bytes of the header/TOC phase not yet consumed, and the absolute offset of their first byte. */
  #pending: Buffer[] = [];
  #pendingLen = 0;
  #pendingBase = 0;
  #needed = 0;
  #header: ArchiveHeader | undefined;
  #tocCount = -1;
  #toc: TocEntry[] = [];
  #tocEndOffset = 0;
  /** Where each entry's copy statement field (its int length and bytes) sits in the archive. */
  #copyStmtSpans = new Map<number, { offset: number; length: number }>();
  #intSize = 4;
  /** Absolute offset of the next byte to be written. */
  #offset = 0;

  // Data-area state machine.
  #dstate: DataState = 'blockType';
  #intPurpose: IntPurpose = 'blockId';
  #intBuf = Buffer.alloc(9);
  #intFill = 0;
  #chunkLeft = 0;
  #blockKind: DataBlock['kind'] = 'data';
  #blockStart = 0;
  #blockId = 0;

  constructor(listener: ArchiveListener = {}) {
    this.#listener = listener;
  }

  get offset(): number {
    return this.#offset;
  }
  get header(): ArchiveHeader | undefined {
    return this.#header;
  }
  get toc(): readonly TocEntry[] {
    return this.#toc;
  }
  get tocEndOffset(): number {
    return this.#tocEndOffset;
  }
  /** Byte range of every TOC entry's copy statement field (int length, then the bytes), by dump id. */
  get copyStmtSpans(): ReadonlyMap<number, { offset: number; length: number }> {
    return this.#copyStmtSpans;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#phase === 'failed') throw new IntegrityErrorArchiveMalformed('the archive reader was used after an error');
    try {
      if (this.#phase === 'data') {
        this.#data(chunk, 0);
        this.#offset += chunk.length;
        return;
      }
      this.#pending.push(chunk);
      this.#pendingLen += chunk.length;
      this.#offset += chunk.length;
      if (this.#pendingLen < this.#needed) return;
      this.#parseFront();
    } catch (err) {
      this.#phase = 'failed';
      throw err;
    }
  }

  /** Declares the end of the stream; throws IntegrityErrorArchiveMalformed when the archive is incomplete. */
  end(): void {
    if (this.#phase === 'failed') throw new IntegrityErrorArchiveMalformed('the archive reader was used after an error');
    if (this.#phase !== 'data') {
      this.#phase = 'failed';
      throw new IntegrityErrorArchiveMalformed(`the archive ends at byte ${this.#offset} inside its ${this.#phase}`, {
        details: { offsetBytes: this.#offset },
      });
    }
    if (this.#dstate !== 'blockType') {
      this.#phase = 'failed';
      throw new IntegrityErrorArchiveMalformed(`the archive ends at byte ${this.#offset} inside the data block of entry ${this.#blockId}`, {
        details: { offsetBytes: this.#offset, dumpId: this.#blockId },
      });
    }
  }

  #parseFront(): void {
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingLen);
    const cur = new Cursor(buf);
    cur.intSize = this.#intSize;
    let committed = 0;
    try {
      if (this.#phase === 'header') {
        this.#header = this.#readHeader(cur);
        this.#intSize = cur.intSize;
        committed = cur.pos;
        this.#phase = 'toc';
        this.#listener.onHeader?.(this.#header);
      }
      if (this.#tocCount < 0) {
        const count = cur.int();
        if (count < 0) throw new IntegrityErrorArchiveMalformed(`negative TOC entry count ${count}`);
        this.#tocCount = count;
        committed = cur.pos;
      }
      while (this.#toc.length < this.#tocCount) {
        this.#toc.push(this.#readEntry(cur));
        committed = cur.pos;
      }
    } catch (err) {
      if (!(err instanceof NeedMore)) throw err;
      const rest = buf.subarray(committed);
      this.#pending = rest.length ? [rest] : [];
      this.#pendingLen = rest.length;
      this.#pendingBase += committed;
      this.#needed = err.upTo - committed;
      return;
    }
    this.#tocEndOffset = this.#pendingBase + committed;
    this.#phase = 'data';
    this.#pending = [];
    this.#pendingLen = 0;
    this.#listener.onToc?.(this.#toc, this.#tocEndOffset);
    // Continue with what followed the TOC in the same buffer; #offset already counts it.
    const rest = buf.subarray(committed);
    if (rest.length) {
      this.#offset -= rest.length;
      this.#data(rest, 0);
      this.#offset += rest.length;
    }
  }

  #readHeader(cur: Cursor): ArchiveHeader {
    const magic = cur.bytes(5).toString('latin1');
    if (magic !== 'PGDMP') throw new IntegrityErrorArchiveMalformed('the stream does not start with "PGDMP"; it is not a pg_dump custom archive');
    const vmaj = cur.byte();
    const vmin = cur.byte();
    const vrev = cur.byte();
    const versionNumber = archiveVersion(vmaj, vmin, vrev);
    const version = `${vmaj}.${vmin}.${vrev}`;
    if (versionNumber < MIN_READ_VERSION || versionNumber > MAX_READ_VERSION) {
      throw new IntegrityErrorArchiveMalformed(`archive version ${version} is not supported (1.12 to 1.16 are)`, { details: { version } });
    }
    const intSize = cur.byte();
    const offSize = cur.byte();
    if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8) {
      throw new IntegrityErrorArchiveMalformed(`implausible integer size ${intSize} or offset size ${offSize} in the archive header`);
    }
    cur.intSize = intSize;
    cur.offSize = offSize;
    const format = cur.byte();
    if (format !== ARCH_CUSTOM) throw new IntegrityErrorArchiveMalformed(`archive format ${format} is not the custom format (${ARCH_CUSTOM})`);
    let compression: ArchiveHeader['compression'];
    if (versionNumber >= K_VERS_1_15) {
      const algo = cur.byte();
      const c = compressionByNumber[algo];
      if (!c) throw new IntegrityErrorArchiveMalformed(`unknown compression algorithm ${algo} in the archive header`);
      compression = c;
    } else {
      compression = cur.int() === 0 ? 'none' : 'gzip';
    }
    const second = cur.int();
    const minute = cur.int();
    const hour = cur.int();
    const day = cur.int();
    const month = cur.int() + 1;
    const year = cur.int() + 1900;
    cur.int(); // tm_isdst
    const database = cur.str() ?? '';
    let serverVersion = '';
    let dumpVersion = '';
    if (versionNumber >= K_VERS_1_10) {
      serverVersion = cur.str() ?? '';
      dumpVersion = cur.str() ?? '';
    }
    return { version, versionNumber, intSize, offSize, compression, createdAt: { year, month, day, hour, minute, second }, database, serverVersion, dumpVersion };
  }

  #readEntry(cur: Cursor): TocEntry {
    const v = this.#header!.versionNumber;
    const dumpId = cur.int();
    if (dumpId <= 0) throw new IntegrityErrorArchiveMalformed(`TOC entry id ${dumpId} out of range`);
    const hadDumper = cur.int() !== 0;
    const tableOid = Number(cur.str() ?? '0');
    const oid = Number(cur.str() ?? '0');
    const tag = cur.str();
    const desc = cur.str() ?? '';
    const section = sectionByNumber[v >= K_VERS_1_11 ? cur.int() : 2];
    if (!section) throw new IntegrityErrorArchiveMalformed(`TOC entry ${dumpId} has an unknown section`);
    const defn = cur.str();
    const dropStmt = cur.str();
    const copyStmtAt = cur.pos;
    const copyStmt = cur.str();
    const copyStmtSpan = { offset: this.#pendingBase + copyStmtAt, length: cur.pos - copyStmtAt };
    const namespace = cur.str();
    const tablespace = cur.str();
    const tableAm = v >= K_VERS_1_14 ? cur.str() : null;
    const relkind = v >= K_VERS_1_16 ? cur.int() : 0;
    const owner = cur.str();
    if (cur.str() === 'true') throw new IntegrityErrorArchiveMalformed(`TOC entry ${dumpId} is a table WITH OIDS, which is not supported`);
    const dependencies: number[] = [];
    for (;;) {
      const d = cur.str();
      if (d === null) break;
      dependencies.push(Number(d));
    }
    const off = cur.offset();
    const dataState = dataStateByNumber[off.state];
    if (!dataState) throw new IntegrityErrorArchiveMalformed(`TOC entry ${dumpId} has an unknown data offset flag ${off.state}`);
    this.#copyStmtSpans.set(dumpId, copyStmtSpan);
    return {
      dumpId, hadDumper, tableOid, oid, tag, desc, section, defn, dropStmt, copyStmt, namespace, tablespace, tableAm, relkind, owner,
      dependencies, dataState, dataOffset: dataState === 'set' ? off.value : 0,
    };
  }

  /** The data area: block type byte, block id, then chunks (int length + bytes) ended by a zero length;
   *  BLOBS blocks hold (oid, chunks…, 0) repeated and end with oid 0. buf[i] sits at absolute offset #offset + i. */
  #data(buf: Buffer, start: number): void {
    const n = buf.length;
    const intLen = 1 + this.#intSize;
    let i = start;
    while (i < n) {
      switch (this.#dstate) {
        case 'blockType': {
          const type = buf[i]!;
          if (type !== BLK_DATA && type !== BLK_BLOBS) {
            throw new IntegrityErrorArchiveMalformed(`unknown data block type ${type} at byte ${this.#offset + i}`, { details: { offsetBytes: this.#offset + i } });
          }
          this.#blockKind = type === BLK_DATA ? 'data' : 'blobs';
          this.#blockStart = this.#offset + i;
          i += 1;
          this.#dstate = 'int';
          this.#intPurpose = 'blockId';
          this.#intFill = 0;
          break;
        }
        case 'int': {
          let value: number;
          if (this.#intFill === 0 && i + intLen <= n) {
            value = decodeInt(buf, i, this.#intSize);
            i += intLen;
          } else {
            const take = Math.min(intLen - this.#intFill, n - i);
            buf.copy(this.#intBuf, this.#intFill, i, i + take);
            this.#intFill += take;
            i += take;
            if (this.#intFill < intLen) break;
            value = decodeInt(this.#intBuf, 0, this.#intSize);
            this.#intFill = 0;
          }
          this.#onInt(value, this.#offset + i);
          break;
        }
        case 'chunk': {
          const take = Math.min(this.#chunkLeft, n - i);
          if (this.#listener.onData) this.#listener.onData(this.#blockId, buf.subarray(i, i + take));
          this.#chunkLeft -= take;
          i += take;
          if (this.#chunkLeft === 0) {
            this.#dstate = 'int';
            this.#intPurpose = 'chunkLen';
          }
          break;
        }
      }
    }
  }

  /** `end` is the absolute offset just after the int. */
  #onInt(value: number, end: number): void {
    switch (this.#intPurpose) {
      case 'blockId':
        if (value <= 0) throw new IntegrityErrorArchiveMalformed(`data block with entry id ${value} at byte ${this.#blockStart}`);
        this.#blockId = value;
        this.#listener.onBlockStart?.(value, this.#blockKind, this.#blockStart);
        this.#intPurpose = this.#blockKind === 'data' ? 'chunkLen' : 'loOid';
        return;
      case 'chunkLen':
        if (value < 0) throw new IntegrityErrorArchiveMalformed(`negative chunk length in the data block of entry ${this.#blockId}`);
        if (value > 0) {
          this.#chunkLeft = value;
          this.#dstate = 'chunk';
          return;
        }
        if (this.#blockKind === 'blobs') {
          this.#intPurpose = 'loOid';
          return;
        }
        this.#endBlock(end);
        return;
      case 'loOid':
        if (value === 0) {
          this.#endBlock(end);
          return;
        }
        this.#intPurpose = 'chunkLen';
        return;
    }
  }

  #endBlock(end: number): void {
    this.#dstate = 'blockType';
    this.#listener.onBlockEnd?.({ dumpId: this.#blockId, kind: this.#blockKind, offset: this.#blockStart, lengthBytes: end - this.#blockStart });
  }
}

function decodeInt(buf: Buffer, at: number, intSize: number): number {
  const sign = buf[at]!;
  let value = 0;
  let mul = 1;
  for (let k = 1; k <= intSize; k++) {
    value += buf[at + k]! * mul;
    mul *= 256;
  }
  return sign ? -value : value;
}

/** A pass-through stream that parses the archive flowing through it: bytes leave unchanged and unbuffered.
 *  A malformed archive fails the stream with IntegrityErrorArchiveMalformed; so does a premature end. */
export function createArchiveTap(listener: ArchiveListener = {}): Transform & { reader: ArchiveReader } {
  const reader = new ArchiveReader(listener);
  const tap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      try {
        reader.write(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      try {
        reader.end();
      } catch (err) {
        cb(err as Error);
        return;
      }
      cb();
    },
  });
  return Object.assign(tap, { reader });
}

/** Reads a whole archive stream and returns its index (header, TOC, every data block's range). */
export async function readArchiveIndex(source: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>): Promise<ArchiveIndex> {
  const blocks: DataBlock[] = [];
  const reader = new ArchiveReader({ onBlockEnd: (b) => blocks.push(b) });
  for await (const chunk of source) reader.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  reader.end();
  return { header: reader.header!, toc: [...reader.toc], tocEndOffset: reader.tocEndOffset, blocks, totalBytes: reader.offset };
}
