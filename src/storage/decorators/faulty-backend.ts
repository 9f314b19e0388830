/** Fault injection for tests: wraps a StorageBackend and, by rules set at run time, fails the Nth call of a
 *  verb, truncates or breaks a get, flips a bit in a get or a put, or slows a call down. Enters production
 *  code only through the composition root's wrapBackend hook; never used by a driver or read from a flag. */
import { Readable } from 'node:stream';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';
import { bodyChunks } from '../body-chunks.ts';
import { TransientErrorStorageUnavailable } from '../errors.ts';

export type StorageVerb = 'put' | 'get' | 'stat' | 'list' | 'delete';

export type Fault =
  /** The call throws (default: TransientErrorStorageUnavailable) without reaching the inner backend. */
  | { kind: 'error'; error?: () => Error }
  /** The call reaches the inner backend, then throws anyway (a put that landed but whose reply was lost). */
  | { kind: 'error-after'; error?: () => Error }
  /** get: the stream ends cleanly after keepBytes (a short read). */
  | { kind: 'truncate'; keepBytes: number }
  /** get: the stream fails with TransientErrorStorageUnavailable after afterBytes (a broken connection). */
  | { kind: 'break'; afterBytes: number }
  /** get: flips `bit` (default 0) of the byte at `atByte` (default 0) of what the reader sees;
   *  put: of what reaches the store. Beyond the end: no change. */
  | { kind: 'flip'; atByte?: number; bit?: number }
  /** Waits delayMs (through the injected sleep) before the call. */
  | { kind: 'delay'; delayMs: number };

export interface FaultRule {
  verb: StorageVerb;
  fault: Fault;
  /** Fires from the nth matching call after the rule was added (1-based, default 1)… */
  nth?: number;
  /** …for this many matching calls (default 1; Infinity for every call from nth on). */
  times?: number;
  /** Only calls whose key (for list: prefix) starts with this, or matches this RegExp, count. */
  key?: string | RegExp;
}

export interface FaultyBackendOptions {
  sleep?: (ms: number) => Promise<void>;
}

interface ActiveRule extends Required<Omit<FaultRule, 'key'>> {
  key: string | RegExp | undefined;
  seen: number;
}

/** A StorageBackend that misbehaves on purpose, as told by inject(). Counts every call per verb in `calls`. */
export class FaultyBackend implements StorageBackend {
  readonly capabilities: StorageCapabilities;
  readonly location: string;
  readonly calls: Record<StorageVerb, number> = { put: 0, get: 0, stat: 0, list: 0, delete: 0 };
  /** How many faults fired, for assertions that a test really exercised its fault. */
  fired = 0;
  readonly #inner: StorageBackend;
  readonly #rules: ActiveRule[] = [];
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(inner: StorageBackend, opts: FaultyBackendOptions = {}) {
    this.#inner = inner;
    this.capabilities = inner.capabilities;
    this.location = inner.location;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  inject(rule: FaultRule): this {
    this.#rules.push({ verb: rule.verb, fault: rule.fault, nth: rule.nth ?? 1, times: rule.times ?? 1, key: rule.key, seen: 0 });
    return this;
  }

  /** Removes every rule (counters stay). */
  clear(): void {
    this.#rules.length = 0;
  }

  /** The faults that apply to this call, in injection order. */
  #faults(verb: StorageVerb, key: string): Fault[] {
    this.calls[verb]++;
    const out: Fault[] = [];
    for (const r of this.#rules) {
      if (r.verb !== verb) continue;
      if (r.key !== undefined && !(typeof r.key === 'string' ? key.startsWith(r.key) : r.key.test(key))) continue;
      r.seen++;
      if (r.seen >= r.nth && r.seen < r.nth + r.times) out.push(r.fault);
    }
    this.fired += out.length;
    return out;
  }

  async #before(faults: Fault[], verb: StorageVerb, key: string): Promise<void> {
    for (const f of faults) {
      if (f.kind === 'delay') await this.#sleep(f.delayMs);
      else if (f.kind === 'error') throw f.error?.() ?? injected(verb, key, this.location);
    }
  }

  #after(faults: Fault[], verb: StorageVerb, key: string): void {
    for (const f of faults) if (f.kind === 'error-after') throw f.error?.() ?? injected(verb, key, this.location);
  }

  async put(key: StorageKey, body: Readable | Buffer, opts?: PutOptions): Promise<void> {
    const faults = this.#faults('put', key);
    await this.#before(faults, 'put', key);
    let b = body;
    for (const f of faults) {
      if (f.kind !== 'flip') continue;
      b = Buffer.isBuffer(b) ? flipBuffer(b, 0, f) : Readable.from(flipStream(bodyChunks(b, opts?.signal), f));
    }
    await this.#inner.put(key, b, opts);
    this.#after(faults, 'put', key);
  }

  async get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const faults = this.#faults('get', key);
    await this.#before(faults, 'get', key);
    let s = await this.#inner.get(key, range, signal);
    this.#after(faults, 'get', key);
    for (const f of faults) {
      if (f.kind === 'flip') s = Readable.from(flipStream(s, f));
      else if (f.kind === 'truncate') s = Readable.from(cut(s, f.keepBytes, undefined));
      else if (f.kind === 'break') s = Readable.from(cut(s, f.afterBytes, () => injected('get', key, this.location, 'connection broke mid-stream')));
    }
    return s;
  }

  async stat(key: StorageKey): Promise<ObjectStat> {
    const faults = this.#faults('stat', key);
    await this.#before(faults, 'stat', key);
    const st = await this.#inner.stat(key);
    this.#after(faults, 'stat', key);
    return st;
  }

  async *list(prefix: string): AsyncIterable<StorageKey> {
    const faults = this.#faults('list', prefix);
    await this.#before(faults, 'list', prefix);
    yield* this.#inner.list(prefix);
    this.#after(faults, 'list', prefix);
  }

  async delete(key: StorageKey): Promise<void> {
    const faults = this.#faults('delete', key);
    await this.#before(faults, 'delete', key);
    await this.#inner.delete(key);
    this.#after(faults, 'delete', key);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function injected(verb: string, key: string, location: string, what = 'injected fault'): TransientErrorStorageUnavailable {
  return new TransientErrorStorageUnavailable(`${verb} "${key}" in ${location} failed: ${what}`, { details: { injected: true } });
}

function flipBuffer(b: Buffer, startOffset: number, f: { atByte?: number; bit?: number }): Buffer {
  const at = (f.atByte ?? 0) - startOffset;
  if (at < 0 || at >= b.length) return b;
  const copy = Buffer.from(b);
  copy[at] = copy[at]! ^ (1 << (f.bit ?? 0));
  return copy;
}

async function* flipStream(src: AsyncIterable<unknown>, f: { atByte?: number; bit?: number }): AsyncGenerator<Buffer> {
  let off = 0;
  for await (const c of src) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    yield flipBuffer(b, off, f);
    off += b.length;
  }
}

/** Passes `limit` bytes, then ends (fail undefined) or throws fail(). */
async function* cut(src: Readable, limit: number, fail: (() => Error) | undefined): AsyncGenerator<Buffer> {
  let left = limit;
  try {
    for await (const c of src) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      if (b.length >= left) {
        if (left > 0) yield b.subarray(0, left);
        left = 0;
        break;
      }
      left -= b.length;
      yield b;
    }
  } finally {
    src.destroy();
  }
  if (fail && left === 0) throw fail();
}
