/** A manifest writer's pack buffers: a fixed few, reused for every pack it writes. A sealed envelope is copied
 *  into the open pack's buffer as soon as it arrives and its own allocation dies young. Envelopes kept whole
 *  until their pack was uploaded outlived several collections, were promoted, and stayed resident until a
 *  full collection: at any moment about twice the bytes the packs held (measured with heaptrack). Holding a
 *  buffer is also the writer's upload bound: a new pack waits until an upload has finished. */
export class PackBuffers {
  readonly #free: Buffer[] = [];
  readonly #waiters: { resolve: (b: Buffer) => void; reject: (err: unknown) => void }[] = [];
  #made = 0;
  #failed: { err: unknown } | undefined;

  /** At most `count` buffers of `bytes` each, made when first needed. */
  constructor(
    readonly bytes: number,
    readonly count: number,
  ) {}

  /** Buffers made so far. */
  get made(): number {
    return this.#made;
  }

  /** A free buffer (contents undefined); waits while all `count` are taken. */
  acquire(): Promise<Buffer> {
    if (this.#failed) return Promise.reject(this.#failed.err);
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    if (this.#made < this.count) {
      this.#made++;
      return Promise.resolve(Buffer.allocUnsafeSlow(this.bytes));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Gives a buffer back once nothing reads it any more (its pack is written). */
  release(buf: Buffer): void {
    const w = this.#waiters.shift();
    if (w) w.resolve(buf);
    else this.#free.push(buf);
  }

  /** Wakes every waiter with `err`, and every later acquire fails with it: a writer that failed waits for no
   *  upload. */
  fail(err: unknown): void {
    this.#failed ??= { err };
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed.err);
  }
}
