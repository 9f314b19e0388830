/** What the vault's operations (save, load, check, prune) share: the backend, the master key, the cached
 *  index, and the primitives that read and authenticate objects and blobs. Internal to src/vault; it never
 *  writes anything itself and never hands key bytes outside the module. */
import { createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Clock } from '../lib/index.ts';
import { StorageErrorNotFound, type StorageBackend, type StorageKey } from '../storage/contract/index.ts';
import type { ChunkerParams } from './chunker/chunker.ts';
import { decompress } from './compression/codec.ts';
import { DecryptPool } from './crypto/decrypt-pool.ts';
import { HashPool } from './crypto/hash-pool.ts';
import { SealPool } from './crypto/seal-pool.ts';
import { associatedData, open } from './crypto/envelope.ts';
import type { MasterKey } from './crypto/master-key.ts';
import { IntegrityErrorChunkHashMismatch, IntegrityErrorMalformedObject, IntegrityErrorObjectMissing } from './errors.ts';
import type { ManifestId, PlanId } from './ids.ts';
import { validateIndexFile, VaultIndex, type BlobLocation, type IndexFile } from './index/vault-index.ts';
import { validateManifest, type Manifest } from './manifest/manifest.ts';
import { idOfKey, objectKey, openJson, prefixes } from './objects.ts';

export interface PrunePlan {
  version: 1;
  createdAt: string;
  graceMs: number;
  packs: string[];
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error after all settle. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failure ??= { err };
      }
    }
  });
  await Promise.all(workers);
  if (failure) throw failure.err;
  return out;
}

/** Chunk buffers that a load lent out and got back (Vault.reuse), lent again to the next chunks read. A load whose
 *  consumer gives its chunks back allocates nothing per chunk on this thread: the buffer travels to a worker, which
 *  decompresses into it, and back. Without that, every chunk was a fresh external buffer that died some time later:
 *  when chunks wait (two pg_restore feeds at once) their wrappers reach the old generation, and V8 answered the
 *  growing external memory with a full collection every ~100 ms (40 of them in a -j2 restore, 1-2 s of CPU). */
export class SpareBuffers {
  readonly #free: ArrayBuffer[] = [];
  readonly #lent = new WeakSet<ArrayBuffer>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Lends a buffer of at least `n` bytes to `fill` (the smallest spare that fits with less than 1 MiB to spare,
   *  else a new one rounded up to 1 MiB, so a lent buffer never holds more than 1 MiB beyond its chunk and the
   *  read-ahead window's byte bound stays near the truth) and returns what `fill` made of it: the chunk, whose
   *  buffer (the same memory, moved to a worker and back) is the one give() takes back. */
  async lend(n: number, fill: (into: ArrayBuffer) => Promise<Buffer>): Promise<Buffer> {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const b = this.#free[i]!;
      if (b.byteLength >= n && b.byteLength - n < spareUnit && (best < 0 || b.byteLength < this.#free[best]!.byteLength)) best = i;
    }
    let into: ArrayBuffer;
    if (best >= 0) {
      into = this.#free.splice(best, 1)[0]!;
      this.#bytes -= into.byteLength;
    } else into = new ArrayBuffer(Math.max(1, Math.ceil(n / spareUnit)) * spareUnit);
    const chunk = await fill(into);
    if (chunk.buffer instanceof ArrayBuffer) this.#lent.add(chunk.buffer);
    return chunk;
  }

  /** Takes back a buffer this lent (anything else is ignored); beyond the bound, the largest spares go to the
   *  collector. */
  give(buf: ArrayBuffer): void {
    if (!this.#lent.delete(buf)) return;
    this.#free.push(buf);
    this.#bytes += buf.byteLength;
    if (this.#bytes <= this.maxBytes) return;
    this.#free.sort((x, y) => x.byteLength - y.byteLength);
    while (this.#bytes > this.maxBytes) this.#bytes -= this.#free.pop()!.byteLength;
  }

  clear(): void {
    this.#free.length = 0;
    this.#bytes = 0;
  }
}
const spareUnit = 1024 * 1024;

export class VaultContext {
  readonly index = new VaultIndex();
  /** Up to 16 MiB of chunk buffers kept between the chunks of lending loads: a -j2 restore of the bench fixture
   *  allocated 9 in all (650 chunks), and dropped 2 (8 MiB: 36 allocated, 32 dropped). */
  readonly spares = new SpareBuffers(16 * 1024 * 1024);
  #pool: DecryptPool | undefined;
  #sealPool: SealPool | undefined;
  #hashPool: HashPool | undefined;

  constructor(
    readonly backend: StorageBackend,
    readonly clock: Clock,
    readonly mk: MasterKey,
    readonly vaultId: string,
    readonly gear: Uint32Array,
    readonly chunkerParams: ChunkerParams,
  ) {}

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.backend.list(prefix)) out.push(k);
    return out;
  }

  async listIds(prefix: string): Promise<string[]> {
    return (await this.list(prefix)).map(idOfKey).filter((id) => /^[0-9a-f]{64}$/.test(id));
  }

  /** Reads a whole object; a missing one throws IntegrityErrorObjectMissing naming `what`. */
  async readObject(key: StorageKey, what: string): Promise<Buffer> {
    try {
      return await readAll(await this.backend.get(key));
    } catch (err) {
      if (err instanceof StorageErrorNotFound) throw new IntegrityErrorObjectMissing(what, { cause: err });
      throw err;
    }
  }

  async readIndexFile(indexId: string): Promise<IndexFile> {
    const what = `index file "${indexId}"`;
    const env = await this.readObject(objectKey.index(indexId), what);
    return validateIndexFile(openJson(this.mk.dataKey, associatedData.index(indexId), env, what), what);
  }

  async readManifest(id: ManifestId): Promise<Manifest> {
    const what = `manifest "${id}"`;
    const env = await this.readObject(objectKey.manifest(id), what);
    return validateManifest(openJson(this.mk.dataKey, associatedData.manifest(id), env, what), id);
  }

  async readPlan(id: PlanId): Promise<PrunePlan> {
    const what = `prune plan "${id}"`;
    const env = await this.readObject(objectKey.plan(id), what);
    const p = openJson<PrunePlan>(this.mk.dataKey, associatedData.prunePlan(id), env, what);
    if (p.version !== 1 || !Array.isArray(p.packs) || typeof p.graceMs !== 'number') throw new IntegrityErrorMalformedObject(what, 'not a version 1 plan');
    return p;
  }

  /** Brings the cached index up to date with storage: loads new index files, rebuilds when one vanished (prune). */
  async refreshIndex(): Promise<void> {
    const ids = await this.listIds(prefixes.index);
    const listed = new Set(ids);
    const vanished = [...this.index.indexIds].some((id) => !listed.has(id));
    if (vanished) {
      this.index.blobs.clear();
      this.index.packs.clear();
      this.index.indexIds.clear();
    }
    const fresh = ids.filter((id) => !this.index.indexIds.has(id));
    const files = await mapLimit(fresh, 8, async (id) => {
      try {
        return await this.readIndexFile(id);
      } catch (err) {
        // A file deleted by a concurrent prune between list and get is not damage.
        if (err instanceof IntegrityErrorObjectMissing) return undefined;
        throw err;
      }
    });
    fresh.forEach((id, i) => {
      const f = files[i];
      if (f) this.index.addFile(id, f);
    });
  }

  async locate(blobId: string): Promise<BlobLocation> {
    let loc = this.index.get(blobId);
    if (!loc) {
      await this.refreshIndex();
      loc = this.index.get(blobId);
    }
    if (!loc) throw new IntegrityErrorObjectMissing(`chunk "${blobId}" (in no index file)`);
    return loc;
  }

  /** Decrypts (on this thread), decompresses and verifies one blob envelope; returns the chunk plaintext. */
  openBlob(blobId: string, envelope: Uint8Array, rawLength: number): Buffer {
    const plain = open(this.mk.dataKey, associatedData.blob(blobId), envelope, `chunk "${blobId}"`);
    let chunk: Buffer;
    try {
      chunk = decompress(plain[0]!, plain.subarray(1));
    } catch (err) {
      throw new IntegrityErrorMalformedObject(`chunk "${blobId}"`, err instanceof Error ? err.message : String(err));
    }
    if (chunk.length !== rawLength || createHmac('sha256', this.mk.idKey).update(chunk).digest('hex') !== blobId) {
      throw new IntegrityErrorChunkHashMismatch(blobId);
    }
    return chunk;
  }

  /** Worker threads that open chunks for loads (decrypt, decompress, verify), started on first use. */
  get decryptPool(): DecryptPool {
    this.#pool ??= new DecryptPool(this.mk.dataKey, this.mk.idKey);
    return this.#pool;
  }

  /** Worker threads that compress and encrypt new chunks for saves, started on first use. */
  get sealPool(): SealPool {
    this.#sealPool ??= new SealPool(this.mk.dataKey);
    return this.#sealPool;
  }

  /** The worker thread that hashes save streams (entry SHA-256 and keyed chunk ids), started on first use. */
  get hashPool(): HashPool {
    this.#hashPool ??= new HashPool(this.mk.idKey);
    return this.#hashPool;
  }

  async close(): Promise<void> {
    await this.#pool?.close();
    await this.#sealPool?.close();
    await this.#hashPool?.close();
    this.#pool = undefined;
    this.#sealPool = undefined;
    this.#hashPool = undefined;
    this.spares.clear();
  }

  /** Reads one chunk by id with a ranged read of its pack, decrypting and checking its keyed id on the
   *  worker pool. `lend`: decompress into a spare buffer (SpareBuffers), which the caller may give back.
   *  When the cached location's pack is gone (a prune swept a duplicate and rewrote the index since we
   *  loaded it), the index is refreshed and the read retried once. */
  async readChunk(blobId: string, lend = false): Promise<Buffer> {
    const loc = await this.locate(blobId);
    try {
      return await this.#readAt(blobId, loc, lend);
    } catch (err) {
      if (!(err instanceof IntegrityErrorObjectMissing)) throw err;
      await this.refreshIndex();
      const again = this.index.get(blobId);
      if (!again || again.packId === loc.packId) throw err;
      return this.#readAt(blobId, again, lend);
    }
  }

  async #readAt(blobId: string, loc: BlobLocation, lend: boolean): Promise<Buffer> {
    const what = `pack "${loc.packId}"`;
    let env: Buffer;
    try {
      env = await readAll(await this.backend.get(objectKey.pack(loc.packId), { offset: loc.offset, length: loc.length }));
    } catch (err) {
      if (err instanceof StorageErrorNotFound) throw new IntegrityErrorObjectMissing(what, { cause: err, details: { blobId } });
      throw err;
    }
    if (env.length !== loc.length) throw new IntegrityErrorObjectMissing(`part of ${what} (it is truncated)`, { details: { blobId } });
    if (!lend) return this.decryptPool.openChunk(blobId, associatedData.blob(blobId), env, loc.rawLength);
    return this.spares.lend(loc.rawLength, (into) => this.decryptPool.openChunk(blobId, associatedData.blob(blobId), env, loc.rawLength, into));
  }
}
