/** Re-blocks the table data of an uncompressed custom-format archive on its way to pg_restore.
 *
 *  pg_dump -Fc -Z0 writes every COPY row as a data chunk of its own ([int length][row]), and pg_restore sends
 *  each chunk to the server as one CopyData message: a table of 10 M rows costs 10 M messages, which the
 *  server parses one by one. A compressed archive gives pg_restore inflated pieces of ~4 KiB instead, which
 *  is why pg_restore of a plain -Fc file was faster than of the vault's -Z0 archive. This joins the chunks of
 *  each table's data into chunks of `targetBytes` (COPY data may be split anywhere; pg_restore forwards
 *  the bytes as they are), and passes everything else through unchanged: the header and TOC, large-object
 *  blocks, and the archive end. The data offsets in the TOC, if pg_dump recorded any, are not used by
 *  pg_restore reading a stream, which is the only way this output is read. */
import { BLK_BLOBS, BLK_DATA } from './archive-format.ts';
import { IntegrityErrorArchiveMalformed } from './archive-reader.ts';

/** Reads the stream through a window of its buffers: a field is read in place unless it crosses a buffer end.
 *  Then only the bytes it needs are joined (the rest of the next buffer waits in `#rest`): joining the whole next
 *  buffer copied every chunk of the vault (~1 MiB each) a second time. */
class Input {
  #it: AsyncIterator<Buffer | Uint8Array>;
  #rest: Buffer | undefined;
  /** The source buffer `buf` is a view of; undefined when `buf` was joined here. */
  #bufSource: Buffer | undefined;
  #restSource: Buffer | undefined;
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  done = false;

  constructor(
    source: AsyncIterable<Buffer | Uint8Array>,
    readonly consumed?: (b: Buffer) => void,
  ) {
    this.#it = source[Symbol.asyncIterator]();
  }

  /** Source buffer `b` is no longer read (its bytes were copied out). */
  #done(b: Buffer | undefined): void {
    if (b) this.consumed?.(b);
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  async #next(): Promise<{ buf: Buffer; source: Buffer } | undefined> {
    const rest = this.#rest;
    if (rest) {
      this.#rest = undefined;
      return { buf: rest, source: this.#restSource! };
    }
    const r = await this.#it.next();
    if (r.done) return undefined;
    const buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    return { buf, source: buf };
  }

  /** Makes at least `n` bytes readable at `pos` (fewer only at the end of the stream). */
  async fill(n: number): Promise<void> {
    while (this.available < n && !this.done) {
      const next = await this.#next();
      if (!next) {
        this.done = true;
        break;
      }
      if (this.available === 0) {
        this.#done(this.#bufSource);
        this.buf = next.buf;
        this.#bufSource = next.source;
      } else {
        const take = Math.min(next.buf.length, n - this.available);
        this.buf = Buffer.concat([this.buf.subarray(this.pos), next.buf.subarray(0, take)]);
        this.#done(this.#bufSource);
        this.#bufSource = undefined;
        if (take < next.buf.length) {
          this.#rest = next.buf.subarray(take);
          this.#restSource = next.source;
        } else this.#done(next.source);
      }
      this.pos = 0;
    }
  }

  /** The next int of the stream (the archive's: a sign byte, then `intSize` bytes); the archive must not end before
   *  it does. */
  async int(intSize: number, where: string): Promise<number> {
    if (this.available < 1 + intSize) await this.fill(1 + intSize);
    if (this.available < 1 + intSize) throw new IntegrityErrorArchiveMalformed(`the archive ends inside ${where}`);
    const v = readIntAt(this.buf, this.pos, intSize);
    this.pos += 1 + intSize;
    return v;
  }

  async close(): Promise<void> {
    this.#done(this.#bufSource);
    this.#bufSource = undefined;
    await this.#it.return?.();
  }
}

/** Where an archive's data section starts, and its integer width (from its header). */
export interface ReblockOptions {
  tocEndOffset: number;
  intSize: number;
}

/** How a caller that recycles memory takes part: it learns when a source buffer is no longer read, and it may
 *  supply the buffers of the table data blocks (each yielded block is a view of one of them). */
export interface ReblockBuffers {
  /** Called at most once per source buffer, when nothing here reads it any more: every byte of it was copied
   *  out, or the output ended (a source still partly unread when the output stops early may not be reported). */
  consumed?: (source: Buffer) => void;
  /** A buffer of exactly `bytes` for the next data block (one given back earlier); by default a new one. */
  block?: (bytes: number) => Buffer;
}

/** The archive's signed integers: a sign byte, then `intSize` bytes, least significant first. */
function readIntAt(b: Buffer, p: number, intSize: number): number {
  let value = 0;
  let mul = 1;
  for (let i = 1; i <= intSize; i++) {
    value += b[p + i]! * mul;
    mul *= 256;
  }
  return b[p] ? -value : value;
}

function writeIntAt(out: Buffer, at: number, v: number, intSize: number): void {
  out[at] = v < 0 ? 1 : 0;
  let x = Math.abs(v);
  for (let i = 0; i < intSize; i++) {
    out[at + 1 + i] = x % 256;
    x = Math.floor(x / 256);
  }
}

/** The block being filled with a table's data. The per-row loop lives here, in a method of one class, and not in the
 *  generators below: V8 optimized such a generator anew for every data item of a parallel restore (a closure passed
 *  in was a new one each time), 10 times at ~130 ms of compiler thread each, more than the loop itself cost. The
 *  block starts with room for its header: the archive's length word, or a CopyData message's type and length. */
class DataBlockWriter {
  used: number;

  constructor(
    public out: Buffer,
    readonly intSize: number,
    readonly cap: number,
    /** A CopyData message ('d', int32 length) instead of an archive chunk ([int length]). */
    readonly copyData: boolean,
  ) {
    this.used = copyData ? copyHeaderBytes : 1 + intSize;
  }

  get empty(): boolean {
    return this.used === (this.copyData ? copyHeaderBytes : 1 + this.intSize);
  }

  /** Copies the whole chunks of `b` from `p` on that fit, in place of their length words; returns where it stopped:
   *  at a chunk crossing the end of `b`, one that does not fit, a zero length, or a malformed sign. */
  packWhole(b: Buffer, p: number): number {
    const intBytes = 1 + this.intSize;
    const end = b.length;
    const out = this.out;
    let used = this.used;
    while (p + intBytes <= end) {
      let len = 0;
      let mul = 1;
      for (let i = 1; i <= this.intSize; i++) {
        len += b[p + i]! * mul;
        mul *= 256;
      }
      if (b[p] !== 0 || len === 0 || p + intBytes + len > end || used + len > this.cap) break;
      const from = p + intBytes;
      if (len <= 64) for (let i = 0; i < len; i++) out[used + i] = b[from + i]!;
      else b.copy(out, used, from, from + len);
      used += len;
      p = from + len;
    }
    this.used = used;
    return p;
  }

  /** The block with its header written. */
  finish(): Buffer {
    if (this.copyData) {
      this.out[0] = copyDataType;
      this.out.writeUInt32BE(this.used - 1, 1);
    } else writeIntAt(this.out, 0, this.used - 1 - this.intSize, this.intSize);
    return this.used === this.cap ? this.out : this.out.subarray(0, this.used);
  }
}

/** The protocol's CopyData message: Byte1('d'), Int32 length (itself included), the data. */
const copyDataType = 0x64;
const copyHeaderBytes = 5;

/** Reads the stream's table-data chunks ([int length][bytes], up to a zero length) into `target`-sized blocks and
 *  yields each block once full, and the last one, if not empty, at the zero length. */
async function* tableDataBlocks(input: Input, intSize: number, cap: number, copyData: boolean, block: ((bytes: number) => Buffer) | undefined): AsyncGenerator<Buffer> {
  const newBlock = (): DataBlockWriter => new DataBlockWriter(block?.(cap) ?? Buffer.allocUnsafe(cap), intSize, cap, copyData);
  let writer = newBlock();
  for (;;) {
    // Fast path: whole chunks inside the current buffer that fit into the block (most rows are short).
    input.pos = writer.packWhole(input.buf, input.pos);
    let len = await input.int(intSize, 'table data');
    if (len < 0) throw new IntegrityErrorArchiveMalformed('a data chunk has a negative length');
    if (len === 0) break;
    while (len > 0) {
      if (input.available === 0) {
        await input.fill(1);
        if (input.available === 0) throw new IntegrityErrorArchiveMalformed('the archive ends inside a data chunk');
      }
      const k = Math.min(len, input.available, cap - writer.used);
      input.buf.copy(writer.out, writer.used, input.pos, input.pos + k);
      input.pos += k;
      writer.used += k;
      len -= k;
      if (writer.used === cap) {
        yield writer.finish();
        writer = newBlock();
      }
    }
  }
  if (!writer.empty) yield writer.finish();
}

/** Yields the archive with each table's data in chunks of about `targetBytes`. */
export async function* reblockArchive(
  source: AsyncIterable<Buffer | Uint8Array>,
  opts: ReblockOptions & ReblockBuffers & { targetBytes?: number },
): AsyncGenerator<Buffer> {
  const intSize = opts.intSize;
  const intBytes = 1 + intSize;
  const cap = intBytes + (opts.targetBytes ?? defaultTargetBytes);
  const input = new Input(source, opts.consumed);
  const int = (v: number): Buffer => {
    const b = Buffer.allocUnsafe(intBytes);
    writeIntAt(b, 0, v, intSize);
    return b;
  };
  /** Copies `n` bytes through unchanged. */
  async function* pass(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      await input.fill(1);
      if (input.available === 0) throw new IntegrityErrorArchiveMalformed('the archive ends inside a block');
      const k = Math.min(n, input.available);
      yield Buffer.from(input.buf.subarray(input.pos, input.pos + k)); // a copy: the window is reused
      input.pos += k;
      n -= k;
    }
  }

  try {
    yield* pass(opts.tocEndOffset);
    for (;;) {
      const head = await blockHeader(input, intSize);
      if (!head) return;
      yield Buffer.from(input.buf.subarray(input.pos - 1 - intBytes, input.pos)); // type and dump id
      if (head.type === BLK_BLOBS) {
        // Large objects: [oid] then chunks up to a zero length, per object, up to a zero oid. Passed through.
        for (;;) {
          const oid = await input.int(intSize, 'a large-object block');
          yield int(oid);
          if (oid === 0) break;
          for (;;) {
            const len = await input.int(intSize, 'a large object');
            yield int(len);
            if (len === 0) break;
            yield* pass(len);
          }
        }
        continue;
      }
      // Table data: chunks joined into `target`-sized ones, each [int length][bytes], then the zero length.
      yield* tableDataBlocks(input, intSize, cap, false, opts.block);
      yield int(0);
    }
  } finally {
    await input.close();
  }
}

const defaultTargetBytes = 256 * 1024;

/** The next block's type and dump id, read (undefined at the end of the stream). */
async function blockHeader(input: Input, intSize: number): Promise<{ type: number; dumpId: number } | undefined> {
  const intBytes = 1 + intSize;
  await input.fill(1 + intBytes);
  if (input.available === 0) return undefined;
  if (input.available < 1 + intBytes) throw new IntegrityErrorArchiveMalformed('the archive ends inside a block header');
  const type = input.buf[input.pos]!;
  if (type !== BLK_DATA && type !== BLK_BLOBS) throw new IntegrityErrorArchiveMalformed(`unknown data block type ${type}`);
  const dumpId = readIntAt(input.buf, input.pos + 1, intSize);
  input.pos += 1 + intBytes;
  return { type, dumpId };
}

/** What copyDataMessages yields: a table's data block starts, one CopyData message of its rows, or its end. */
export type CopyDataEvent = { kind: 'block'; dumpId: number } | { kind: 'data'; message: Buffer } | { kind: 'end' };

/** Reads the table-data blocks of an uncompressed custom archive (what follows its TOC, or the byte ranges of some of
 *  its blocks) and yields their rows as the protocol's CopyData messages of about `targetBytes` each, ready to be
 *  written to a server in copy-in mode as they are: a restore session loads a table with them (restore-sql-session.ts)
 *  where pg_restore would send the same bytes. A large-object block is refused: only pg_restore loads those. */
export async function* copyDataMessages(
  source: AsyncIterable<Buffer | Uint8Array>,
  opts: { intSize: number; targetBytes?: number } & ReblockBuffers,
): AsyncGenerator<CopyDataEvent> {
  const cap = copyHeaderBytes + (opts.targetBytes ?? defaultTargetBytes);
  const input = new Input(source, opts.consumed);
  try {
    for (;;) {
      const head = await blockHeader(input, opts.intSize);
      if (!head) return;
      if (head.type !== BLK_DATA) throw new IntegrityErrorArchiveMalformed(`a large-object block (dump id ${head.dumpId}) where only table data was expected`);
      yield { kind: 'block', dumpId: head.dumpId };
      for await (const message of tableDataBlocks(input, opts.intSize, cap, true, opts.block)) yield { kind: 'data', message };
      yield { kind: 'end' };
    }
  } finally {
    await input.close();
  }
}
