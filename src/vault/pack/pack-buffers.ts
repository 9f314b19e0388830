/** A manifest writer's pack buffers: a fixed few, reused for every pack it writes. A sealed envelope is copied
 *  into the open pack's buffer as soon as it arrives and its own allocation dies young. Envelopes kept whole
 *  until their pack was uploaded outlived several collections, were promoted, and stayed resident until a
 *  full collection: at any moment about twice the bytes the packs held (measured with heaptrack). Holding a
 *  buffer is also the writer's upload bound: a new pack waits until an upload has finished. A pack for an
 *  envelope larger than a buffer gets a one-off buffer of its own, which takes one of the `count` places
 *  while it is held and is dropped, not kept, on release: the few kept buffers need only the pack target. */
export class PackBuffers {
  readonly #free: Buffer[] = [];
  readonly #waiters: { minBytes: number; resolve: (b: Buffer) => void; reject: (err: unknown) => void }[] = [];
  #made = 0;
  #held = 0;
  #failed: { err: unknown } | undefined;

  /** At most `count` buffers held at once; those of `bytes` each are made when first needed and reused. */
  constructor(
    readonly bytes: number,
    readonly count: number,
  ) {}

  /** Buffers of `bytes` made so far (one-off buffers not counted). */
  get made(): number {
    return this.#made;
  }

  /** A free buffer of at least `minBytes` (contents undefined): a kept one of `bytes`, or a one-off when
   *  `minBytes` is larger; waits while all `count` places are taken. */
  acquire(minBytes = this.bytes): Promise<Buffer> {
    if (this.#failed) return Promise.reject(this.#failed.err);
    if (this.#held < this.count) {
      this.#held++;
      return Promise.resolve(this.#take(minBytes));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ minBytes, resolve, reject }));
  }

  /** Gives a buffer back once nothing reads it any more (its pack is written). */
  release(buf: Buffer): void {
    if (buf.length === this.bytes) this.#free.push(buf);
    const w = this.#waiters.shift();
    if (w) w.resolve(this.#take(w.minBytes));
    else this.#held--;
  }

  /** Wakes every waiter with `err`, and every later acquire fails with it: a writer that failed waits for no
   *  upload. */
  fail(err: unknown): void {
    this.#failed ??= { err };
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed.err);
  }

  #take(minBytes: number): Buffer {
    if (minBytes > this.bytes) return Buffer.allocUnsafeSlow(minBytes);
    const free = this.#free.pop();
    if (free) return free;
    this.#made++;
    return Buffer.allocUnsafeSlow(this.bytes);
  }
}
