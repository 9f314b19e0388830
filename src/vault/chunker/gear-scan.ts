/** The chunker's hot loop in WebAssembly: the gear hash over a byte range until the first cut (vault-format.md §5).
 *  V8 compiles the same loop in JavaScript to ~440 MB/s here (typed-array bounds checks, the unsigned table
 *  values); this module runs it at ~1.05 GB/s on the same machine (ADR 0008). Pure: no I/O, no allocation per call.
 *  It must compute exactly `h = ((h << 1) + gear[b]) mod 2^32` and stop after the first byte where `h & mask` is
 *  zero: stored chunk boundaries depend on it (golden vectors and a property test against the plain loop pin it). */

/** Bytes copied into the module's memory per call of its scan; longer ranges are scanned in pieces. */
const scratchBytes = 1 << 20;
/** The gear table's 256 little-endian 32-bit values sit at address 0; the scratch range follows. */
const scratchAt = 1024;
const pageBytes = 64 * 1024;

/** The WebAssembly API that Node provides; TypeScript declares it only in its DOM library, which this project
 *  does not load, so the few parts used here are typed here. */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}
interface GearScanExports {
  memory: { buffer: ArrayBuffer };
  scan: (from: number, to: number, h: number, mask: number) => number;
  h: { value: number };
}
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Scans bytes with the gear hash. One per thread (the module's memory is the scratch space); calls are
 *  synchronous, so chunkers of different vaults on one thread share it, each passing its own table. */
export class GearScanner {
  /** The hash after the last byte scanned by the last call to scan(). */
  h = 0;
  readonly #memory: Uint8Array;
  readonly #table: Uint32Array;
  readonly #scan: (from: number, to: number, h: number, mask: number) => number;
  readonly #exportedH: { value: number };
  #loadedGear: Uint32Array | undefined;

  constructor() {
    const exports = new wasm.Instance(new wasm.Module(gearScanModule()), {}).exports as GearScanExports;
    this.#memory = new Uint8Array(exports.memory.buffer);
    this.#table = new Uint32Array(exports.memory.buffer, 0, 256);
    this.#scan = exports.scan;
    this.#exportedH = exports.h;
  }

  /** Hashes data[from, to) starting from hash `h`. Returns the index just after the first byte whose hash has all
   *  `mask` bits zero, or -1 when no byte in the range does; either way `this.h` is the hash after the last byte
   *  hashed. `gear` must have 256 entries. */
  scan(gear: Uint32Array, data: Uint8Array, from: number, to: number, h: number, mask: number): number {
    if (this.#loadedGear !== gear) {
      this.#table.set(gear);
      this.#loadedGear = gear;
    }
    const memory = this.#memory;
    for (let at = from; at < to; ) {
      const n = Math.min(scratchBytes, to - at);
      memory.set(data.subarray(at, at + n), scratchAt);
      const end = this.#scan(scratchAt, scratchAt + n, h, mask);
      h = this.#exportedH.value;
      if (end >= 0) {
        this.h = h;
        return at + (end - scratchAt);
      }
      at += n;
    }
    this.h = h;
    return -1;
  }
}

let shared: GearScanner | undefined;
/** This thread's scanner, made on first use. */
export function gearScanner(): GearScanner {
  return (shared ??= new GearScanner());
}

/** The module, encoded here rather than shipped as a binary, so that its few instructions are reviewable:
 *
 *    (memory (export "memory") 17)              ;; 1 KiB table + 1 MiB scratch, rounded up to pages
 *    (global $h (export "h") (mut i32) (i32.const 0))
 *    (func (export "scan") (param $p i32) (param $end i32) (param $h i32) (param $mask i32) (result i32)
 *      (block $out (loop $next
 *        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
 *        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
 *                               (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
 *        (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *        (br_if $next (i32.and (local.get $h) (local.get $mask)))
 *        (global.set $h (local.get $h))
 *        (return (local.get $p))))
 *      (global.set $h (local.get $h))
 *      (i32.const -1))
 */
export function gearScanModule(): Uint8Array {
  const [p, end, h, mask] = [0, 1, 2, 3];
  const i32 = 0x7f;
  const op = {
    block: 0x02, loop: 0x03, end: 0x0b, brIf: 0x0d, return: 0x0f, localGet: 0x20, localSet: 0x21, globalSet: 0x24,
    i32Load: 0x28, i32Load8U: 0x2d, i32Const: 0x41, i32GeU: 0x4f, i32Add: 0x6a, i32And: 0x71, i32Shl: 0x74, void: 0x40,
  } as const;
  const body = [
    0, // no locals beyond the parameters
    op.block, op.void, op.loop, op.void,
    op.localGet, p, op.localGet, end, op.i32GeU, op.brIf, 1,
    op.localGet, h, op.i32Const, 1, op.i32Shl,
    op.localGet, p, op.i32Load8U, 0, 0, op.i32Const, 2, op.i32Shl, op.i32Load, 2, 0,
    op.i32Add, op.localSet, h,
    op.localGet, p, op.i32Const, 1, op.i32Add, op.localSet, p,
    op.localGet, h, op.localGet, mask, op.i32And, op.brIf, 0,
    op.localGet, h, op.globalSet, 0, op.localGet, p, op.return,
    op.end, op.end,
    op.localGet, h, op.globalSet, 0, op.i32Const, 0x7f /* -1 */, op.end,
  ];
  const pages = Math.ceil((scratchAt + scratchBytes) / pageBytes);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, [1, 0x60, 4, i32, i32, i32, i32, 1, i32]), // one type: (i32 i32 i32 i32) -> i32
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, ...uleb(pages)]), // one memory, minimum pages, no maximum
    ...section(6, [1, i32, 1, op.i32Const, 0, op.end]), // one mutable i32 global, 0
    ...section(7, [3, ...name('scan'), 0x00, 0, ...name('memory'), 0x02, 0, ...name('h'), 0x03, 0]), // exports
    ...section(10, [1, ...uleb(body.length), ...body]), // code
  ]);
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

function name(s: string): number[] {
  return [s.length, ...Buffer.from(s, 'ascii')];
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
