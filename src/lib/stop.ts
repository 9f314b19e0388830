/** A one-time stop that many short waits race against: `race(p)` settles as `p` does, or with `stopped` once stop()
 *  is called. Promise.race([p, longLived]) would do, but every race adds a reaction to the long-lived promise that
 *  stays (with the race's promise and what it holds) until that promise settles: a loop racing each chunk of a
 *  long load against "the load ended" kept ~600 bytes per chunk for the whole load (nodejs/node#17469). Here a
 *  settled race leaves nothing behind. */
export class Stop {
  #stopped = false;
  readonly #waiters = new Set<() => void>();

  get stopped(): boolean {
    return this.#stopped;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  race<T>(p: Promise<T>): Promise<T | typeof stopped> {
    if (this.#stopped) {
      p.catch(() => undefined); // its outcome no longer matters
      return Promise.resolve(stopped);
    }
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        p.catch(() => undefined);
        resolve(stopped);
      };
      this.#waiters.add(wake);
      p.then(
        (v) => {
          this.#waiters.delete(wake);
          resolve(v);
        },
        (err: unknown) => {
          this.#waiters.delete(wake);
          reject(err);
        },
      );
    });
  }
}

/** What Stop.race gives once stopped. */
export const stopped: unique symbol = Symbol('stopped');
