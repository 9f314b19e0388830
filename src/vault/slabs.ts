/** The save path's staging memory. Each source buffer is copied once (memcpy, ~7 GB/s) into fixed
 *  SharedArrayBuffer slabs; the chunker, the hash worker and the seal workers then all read those bytes in
 *  place, so no chunk is copied again to cross a thread. A slab is reused once every byte written to it is
 *  settled (its chunk's id is known and, for a new chunk, its seal worker has read it). At most `maxSlabs`
 *  exist: write() waits for a settled slab, which is the save's backpressure on its source. */

interface Slab {
  readonly sab: SharedArrayBuffer;
  readonly view: Uint8Array;
  written: number;
  settled: number;
  /** No more bytes go in (full, or the stream ended). */
  closed: boolean;
}

export class Slabs {
  readonly slabBytes: number;
  readonly maxSlabs: number;
  readonly #bySab = new Map<SharedArrayBuffer, Slab>();
  readonly #free: Slab[] = [];
  #current: Slab | undefined;
  #waiters: { resolve: (slab: Slab) => void; reject: (err: unknown) => void }[] = [];
  #failed: { err: unknown } | undefined;

  /** `maxChunkBytes` guarantees progress: a chunk still growing can hold that many bytes, with room left
   *  for the chunks before it. */
  constructor(opts: { slabBytes: number; maxBytes: number; maxChunkBytes: number }) {
    this.slabBytes = opts.slabBytes;
    this.maxSlabs = Math.max(Math.ceil(opts.maxBytes / opts.slabBytes), Math.ceil(opts.maxChunkBytes / opts.slabBytes) + 3);
  }

  /** Slabs allocated so far (each `slabBytes`). */
  get allocated(): number {
    return this.#bySab.size;
  }

  /** Copies `data` in and returns the views that now hold it, in order (more than one where it crossed into
   *  another slab). Waits while every slab holds unsettled bytes. */
  async write(data: Uint8Array): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    let off = 0;
    while (off < data.length) {
      let slab = this.#current;
      if (!slab || slab.written === this.slabBytes) {
        if (slab) this.#close(slab);
        slab = this.#current = await this.#take();
      }
      const n = Math.min(this.slabBytes - slab.written, data.length - off);
      slab.view.set(n === data.length ? data : data.subarray(off, off + n), slab.written);
      out.push(slab.view.subarray(slab.written, slab.written + n));
      slab.written += n;
      off += n;
    }
    return out;
  }

  /** The stream ended: the last slab takes no more bytes. */
  end(): void {
    if (this.#current) this.#close(this.#current);
    this.#current = undefined;
  }

  /** Marks the bytes of these views (returned by write()) as no longer needed. */
  settle(parts: readonly Uint8Array[]): void {
    for (const p of parts) {
      const slab = this.#bySab.get(p.buffer as SharedArrayBuffer);
      if (!slab) continue;
      slab.settled += p.length;
      this.#maybeFree(slab);
    }
  }

  /** Wakes every waiting write() with `err`, and fails later ones (the save failed elsewhere). */
  fail(err: unknown): void {
    this.#failed ??= { err };
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  #close(slab: Slab): void {
    slab.closed = true;
    this.#maybeFree(slab);
  }

  #maybeFree(slab: Slab): void {
    if (!slab.closed || slab.settled < slab.written) return;
    slab.written = 0;
    slab.settled = 0;
    slab.closed = false;
    const w = this.#waiters.shift();
    if (w) w.resolve(slab);
    else this.#free.push(slab);
  }

  async #take(): Promise<Slab> {
    if (this.#failed) throw this.#failed.err;
    const free = this.#free.pop();
    if (free) return free;
    if (this.#bySab.size < this.maxSlabs) {
      const sab = new SharedArrayBuffer(this.slabBytes);
      const slab: Slab = { sab, view: new Uint8Array(sab), written: 0, settled: 0, closed: false };
      this.#bySab.set(sab, slab);
      return slab;
    }
    return new Promise<Slab>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }
}
