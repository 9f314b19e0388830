/** Writes one manifest: streams entries through chunking, keyed hashing, compression (thread pool) and
 *  encryption into bounded packs, then puts the index file and finally the manifest, the commit point
 *  (vault-format.md §11). Memory stays bounded: per entry its slabs and at most `maxInflightChunks` chunks
 *  being sealed; per writer `maxPackUploads` + 1 pack buffers (the open pack and those uploading); the source
 *  stream is read only as fast as that drains.
 *  It never writes a manifest before every pack and index it needs is durable. */
import type { Readable } from 'node:stream';
import { InternalErrorUnexpected, UserErrorConflict, UserErrorInvalidInput } from '../lib/index.ts';
import { StorageErrorNotFound } from '../storage/contract/index.ts';
import { Chunker } from './chunker/chunker.ts';
import { associatedData } from './crypto/envelope.ts';
import { releaseEnvelope } from './crypto/seal-pool.ts';
import { TransientErrorPruneConflict } from './errors.ts';
import { randomObjectId, type BlobId, type ManifestId, type PlanId } from './ids.ts';
import type { IndexedPack } from './index/vault-index.ts';
import type { ChunkRef, EntryInfo, Manifest, ManifestEntry, ManifestInfo } from './manifest/manifest.ts';
import { objectKey, prefixes, sealJson } from './objects.ts';
import { PackBuffers } from './pack/pack-buffers.ts';
import { PackBuilder, packHeaderBytes } from './pack/pack-format.ts';
import { mapLimit, type VaultContext } from './vault-context.ts';
import { Slabs } from './slabs.ts';
import { YoungGc } from './young-gc.ts';

export interface ManifestWriter {
  /** Streams one named entry in; resolves when all its chunks are sealed into packs (not yet durable).
   *  Entries may be added concurrently. The signal aborts reading; the writer is then unusable. */
  addEntry(name: string, stream: Readable, opts?: { signal?: AbortSignal }): Promise<EntryInfo>;
  /** Waits for running entries, puts the last pack, the index file, then the manifest (the commit point). `meta`
   *  replaces the one given at the start, for facts known only at the end. */
  commit(opts?: { meta?: Record<string, unknown> }): Promise<ManifestInfo>;
  /** Stops; nothing becomes visible. Packs already written are garbage for prune. */
  abort(): Promise<void>;
}

export interface WriterTuning {
  packTargetBytes: number;
  maxInflightChunks: number;
  maxPackUploads: number;
  /** Staging slabs per entry (slabs.ts): their size, and how many bytes of them at most (raised to what the
   *  chunker's largest chunk needs). */
  slabBytes: number;
  maxSlabBytes: number;
}

export const defaultWriterTuning: WriterTuning = {
  packTargetBytes: 4 * 1024 * 1024,
  maxInflightChunks: 3,
  maxPackUploads: 2,
  slabBytes: 2 * 1024 * 1024,
  maxSlabBytes: 16 * 1024 * 1024,
};

/** The last segment of a stream whose bytes were all sent already. */
const noBytes = new Uint8Array(new SharedArrayBuffer(0));

const entryNameRe = /^[^\0/][^\0]{0,1023}$/;

export class VaultManifestWriter implements ManifestWriter {
  readonly #ctx: VaultContext;
  readonly #meta: Record<string, unknown>;
  readonly #tuning: WriterTuning;
  readonly #onCommitted: (packs: IndexedPack[], indexId: string) => void;
  readonly #startedAt: Date;
  readonly #ready: Promise<void>;
  #knownPlans = new Set<string>();
  #condemned = new Set<string>();
  /** Blobs this writer has sealed (in the open pack, uploading or uploaded). */
  readonly #pending = new Set<string>();
  /** Packs of the index this writer's entries refer to. */
  readonly #reusedPacks = new Set<string>();
  readonly #entries: (ManifestEntry | undefined)[] = [];
  readonly #names = new Set<string>();
  readonly #running = new Set<Promise<unknown>>();
  readonly #uploads = new Set<Promise<void>>();
  readonly #written: IndexedPack[] = [];
  #pack: PackBuilder | undefined;
  readonly #packBuffers: PackBuffers;
  /** Envelopes go into packs one at a time, in the order they were sealed. */
  #appends: Promise<void> = Promise.resolve();
  #failure: { err: unknown } | undefined;
  #state: 'open' | 'committing' | 'done' | 'aborted' = 'open';
  #infos: (EntryInfo | undefined)[] = [];

  constructor(ctx: VaultContext, meta: Record<string, unknown>, tuning: WriterTuning, onCommitted: (packs: IndexedPack[], indexId: string) => void) {
    this.#ctx = ctx;
    this.#meta = meta;
    this.#tuning = tuning;
    this.#onCommitted = onCommitted;
    this.#startedAt = ctx.clock.now();
    // A pack closes once it reaches the target, or before an envelope that would not fit. The kept buffers
    // hold the target and the header (room for 256 blobs before a pack closes early for it); an envelope
    // larger than that (a chunk near the chunker's maximum that compresses little) gets a one-off buffer.
    const packBytes = tuning.packTargetBytes + packHeaderBytes(256);
    this.#packBuffers = new PackBuffers(packBytes, tuning.maxPackUploads + 1);
    this.#ready = this.#load();
    this.#ready.catch(() => undefined);
  }

  /** Plans first, then the index: a plan swept after our listing has already replaced its index files. */
  async #load(): Promise<void> {
    const planIds = await this.#ctx.listIds(prefixes.plans);
    for (const id of planIds) {
      this.#knownPlans.add(id);
      try {
        for (const p of (await this.#ctx.readPlan(id as PlanId)).packs) this.#condemned.add(p);
      } catch {
        // A plan deleted between list and read has been swept; the index refresh below sees its result.
      }
    }
    await this.#ctx.refreshIndex();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.err;
  }

  #checkOpen(): void {
    if (this.#state !== 'open') throw new UserErrorConflict(`this manifest writer is ${this.#state}`, { hint: 'Begin a new manifest.' });
    if (this.#failure) throw this.#failure.err;
  }

  addEntry(name: string, stream: Readable, opts: { signal?: AbortSignal } = {}): Promise<EntryInfo> {
    try {
      this.#checkOpen();
      if (!entryNameRe.test(name)) throw new UserErrorInvalidInput(`entry name "${name.slice(0, 80)}" is invalid`, { hint: 'Use 1–1024 characters, no NUL, not starting with "/".' });
      if (this.#names.has(name)) throw new UserErrorConflict(`entry "${name}" was already added to this manifest`, { hint: 'Entry names are unique within a manifest.' });
    } catch (err) {
      return Promise.reject(err);
    }
    // Guarded at once, not after the writer's first await: a source that fails early (pg_dump exiting with
    // nothing written) must not raise an unhandled 'error'; the iterator in #runEntry surfaces it.
    stream.on('error', () => undefined);
    this.#names.add(name);
    const slot = this.#entries.length;
    this.#entries.push(undefined);
    this.#infos.push(undefined);
    const run = this.#runEntry(slot, name, stream, opts.signal);
    this.#running.add(run);
    run.then(
      () => this.#running.delete(run),
      (err) => {
        this.#running.delete(run);
        this.#failure ??= { err };
      },
    );
    return run;
  }

  async #runEntry(slot: number, name: string, stream: Readable, signal: AbortSignal | undefined): Promise<EntryInfo> {
    await this.#ready;
    const ctx = this.#ctx;
    const tuning = this.#tuning;
    const chunker = new Chunker(ctx.gear, ctx.chunkerParams);
    const slabs = new Slabs({ slabBytes: tuning.slabBytes, maxBytes: tuning.maxSlabBytes, maxChunkBytes: ctx.chunkerParams.maxBytes });
    const hasher = ctx.hashPool.stream();
    const gc = new YoungGc();
    const chunks: ChunkRef[] = [];
    /** Completed chunks waiting for their ids from the hash worker, in stream order. */
    const awaitingIds: Uint8Array[][] = [];
    const sealQueue: { id: BlobId; parts: Uint8Array[] }[] = [];
    const sealing = new Set<Promise<void>>();
    let pos = 0;
    let cutAt = 0;
    let newBytes = 0;
    let storedBytes = 0;
    let sha256: string | undefined;
    let stopped = false;
    let hashTail: Promise<void> = Promise.resolve();
    const fail = (err: unknown): void => {
      this.#failure ??= { err };
      slabs.fail(err);
    };

    // The source is copied once into shared slabs. The main thread only chunks; the hash worker computes
    // the entry's SHA-256 and the chunks' keyed ids from the same bytes; a chunk the vault lacks is read in
    // place by a seal worker. A repeat save, where almost every chunk is known, costs the chunker's scan
    // here and the two SHA-256 passes there, overlapped.
    const sealNext = (): void => {
      while (!stopped && sealing.size < tuning.maxInflightChunks && sealQueue.length > 0) {
        const { id, parts } = sealQueue.shift()!;
        const p = this.#storeBlob(id, parts, () => slabs.settle(parts)).then((n) => {
          storedBytes += n;
        }, fail);
        sealing.add(p);
        void p.then(() => {
          sealing.delete(p);
          sealNext();
        });
      }
    };

    const onIds = (ids: string[]): void => {
      for (const id of ids as BlobId[]) {
        const parts = awaitingIds.shift()!;
        let length = 0;
        for (const p of parts) length += p.length;
        chunks.push({ id, offset: pos, length });
        pos += length;
        const sealedHere = this.#pending.has(id);
        const loc = sealedHere ? undefined : ctx.index.get(id);
        if (sealedHere || (loc && !this.#condemned.has(loc.packId))) {
          if (loc) this.#reusedPacks.add(loc.packId);
          slabs.settle(parts);
          continue;
        }
        this.#pending.add(id);
        newBytes += length;
        gc.note(length); // its envelope comes back here and dies once copied into its pack
        sealQueue.push({ id, parts });
      }
      sealNext();
    };

    /** Bytes of one slab not yet sent to the hash worker, with the stream offsets where chunks end in them. */
    let seg: { view: Uint8Array; streamStart: number; cuts: number[] } | undefined;
    let streamPos = 0;
    const post = (end: boolean): void => {
      const s = seg ?? { view: noBytes, streamStart: streamPos, cuts: [] };
      seg = undefined;
      const cuts = s.cuts.map((c) => c - s.streamStart);
      const p = hasher.segment(s.view, cuts, end);
      p.catch(() => undefined); // handled in order through hashTail, maybe later than it settles
      hashTail = hashTail.then(() => p).then((h) => {
        if (h.ids.length !== cuts.length) throw new InternalErrorUnexpected('the hash worker answered for the wrong number of chunks');
        onIds(h.ids);
        if (end) sha256 = h.sha256;
      });
      hashTail.catch(fail);
    };
    const cut = (parts: Uint8Array[]): void => {
      for (const p of parts) cutAt += p.length;
      seg!.cuts.push(cutAt);
      awaitingIds.push(parts);
    };
    const feed = (views: Uint8Array[]): void => {
      for (const v of views) {
        if (seg && (seg.view.buffer !== v.buffer || seg.view.byteOffset + seg.view.length !== v.byteOffset)) post(false);
        seg = seg ? { ...seg, view: new Uint8Array(v.buffer, seg.view.byteOffset, seg.view.length + v.length) } : { view: v, streamStart: streamPos, cuts: [] };
        streamPos += v.length;
        const done = chunker.pushParts(v);
        for (const parts of done) cut(parts);
        if (done.length > 0) post(false);
      }
    };

    try {
      for await (const buf of stream) {
        signal?.throwIfAborted();
        if (this.#failure) throw this.#failure.err;
        if (this.#state === 'aborted') throw new UserErrorConflict('the manifest writer was aborted');
        feed(await slabs.write(buf as Buffer));
        gc.note((buf as Buffer).length); // copied into the slabs: the source's buffer is garbage now
      }
      slabs.end();
      const last = chunker.finishParts();
      if (last.length > 0) {
        seg ??= { view: noBytes, streamStart: streamPos, cuts: [] };
        for (const parts of last) cut(parts);
      }
      post(true);
      await hashTail;
      while (sealing.size > 0) await Promise.race(sealing);
      if (this.#failure) throw this.#failure.err;
    } catch (err) {
      stopped = true;
      slabs.fail(err);
      await hashTail.catch(() => undefined);
      await Promise.allSettled([...sealing]);
      if (sha256 === undefined) void hasher.drop().catch(() => undefined);
      if (!stream.destroyed) stream.destroy();
      throw err;
    }
    if (sha256 === undefined || awaitingIds.length > 0 || pos !== streamPos) throw new InternalErrorUnexpected(`entry "${name}" ended with ${awaitingIds.length} chunks unhashed`);
    const entry: ManifestEntry = { name, sizeBytes: pos, sha256, chunks };
    const info: EntryInfo = { name, sizeBytes: pos, sha256, newBytes, storedBytes, chunkCount: chunks.length };
    this.#entries[slot] = entry;
    this.#infos[slot] = info;
    return info;
  }

  /** Compresses and encrypts one blob on a seal worker, which reads `parts` in place (`read` runs once it
   *  has), and copies the envelope into the open pack. Returns the envelope size. */
  async #storeBlob(id: string, parts: Uint8Array[], read: () => void): Promise<number> {
    let rawLength = 0;
    for (const p of parts) rawLength += p.length;
    let env: Buffer[];
    try {
      env = await this.#ctx.sealPool.sealShared(associatedData.blob(id), parts);
    } finally {
      read();
    }
    let length = 0;
    for (const p of env) length += p.length;
    const appended = this.#appends.then(() => this.#append(id, env, rawLength, length));
    this.#appends = appended.catch(() => undefined);
    await appended;
    return length;
  }

  /** Copies an envelope into the open pack, first closing that pack when the envelope does not fit, and
   *  closes it when it has reached the target size. Opening a pack waits for a free pack buffer. */
  async #append(id: string, env: readonly Uint8Array[], rawLength: number, length: number): Promise<void> {
    this.#throwIfFailed();
    if (this.#state === 'aborted') throw new UserErrorConflict('the manifest writer was aborted');
    if (this.#pack && this.#pack.room < length) this.#flushPack();
    this.#pack ??= new PackBuilder(randomObjectId(), await this.#packBuffers.acquire(length + packHeaderBytes(1)));
    this.#pack.add(id, env, rawLength);
    releaseEnvelope(env); // copied: its memory goes at the next young collection, not at a full one
    if (this.#pack.sizeBytes >= this.#tuning.packTargetBytes) this.#flushPack();
  }

  /** Starts the open pack's upload; its buffer is reused once the upload has finished. */
  #flushPack(): void {
    const pack = this.#pack;
    if (!pack) return;
    this.#pack = undefined;
    if (pack.blobs.length === 0) {
      this.#packBuffers.release(pack.buffer);
      return;
    }
    // One Buffer: a store that fails after reading it (a lost reply) can be retried (storage decorators).
    const body = pack.finish(this.#ctx.mk.dataKey);
    const indexed: IndexedPack = { id: pack.id, sizeBytes: body.length, blobs: pack.blobs };
    const up = this.#ctx.backend.put(objectKey.pack(pack.id), body, { ifAbsent: true }).then(
      () => {
        this.#written.push(indexed);
        this.#packBuffers.release(pack.buffer);
      },
      (err) => {
        // The buffer is not reused: a driver may still be reading it. Nothing waits for a buffer any more.
        this.#failure ??= { err };
        this.#packBuffers.fail(err);
      },
    );
    this.#uploads.add(up);
    void up.then(() => this.#uploads.delete(up));
  }

  async commit(opts: { meta?: Record<string, unknown> } = {}): Promise<ManifestInfo> {
    this.#checkOpen();
    const meta = opts.meta ?? this.#meta;
    this.#state = 'committing';
    try {
      await this.#ready;
      await Promise.allSettled([...this.#running]);
      this.#throwIfFailed();
      await this.#appends;
      this.#flushPack();
      await Promise.all([...this.#uploads]);
      this.#throwIfFailed();
      const ctx = this.#ctx;
      const plansBefore = await this.#checkPlans();
      const indexId = randomObjectId<string>();
      if (this.#written.length > 0) {
        const file = { version: 1, createdAt: ctx.clock.now().toISOString(), packs: this.#written };
        await ctx.backend.put(objectKey.index(indexId), await sealJson(ctx.mk.dataKey, associatedData.index(indexId), file), { ifAbsent: true });
      }
      const id = randomObjectId<ManifestId>();
      const createdAt = ctx.clock.now().toISOString();
      const entries = this.#entries as ManifestEntry[];
      const body: Omit<Manifest, 'id'> = {
        version: 1,
        createdAt,
        meta,
        entries,
        writer: { startedAt: this.#startedAt.toISOString(), knownPlans: [...this.#knownPlans] },
      };
      await ctx.backend.put(objectKey.manifest(id), await sealJson(ctx.mk.dataKey, associatedData.manifest(id), body), { ifAbsent: true });
      // The manifest is safe when it landed before any plan we did not know could be swept (start + grace).
      const ageMs = ctx.clock.now().getTime() - this.#startedAt.getTime();
      const risky = [...plansBefore, ...(await this.#intersectingNewPlans())].find((p) => ageMs >= p.graceMs);
      if (risky) {
        await ctx.backend.delete(objectKey.manifest(id));
        throw new TransientErrorPruneConflict(risky.packId);
      }
      this.#state = 'done';
      if (this.#written.length > 0) this.#onCommitted(this.#written, indexId);
      const infos = this.#infos as EntryInfo[];
      return {
        id,
        createdAt,
        entries: infos,
        sizeBytes: infos.reduce((a, e) => a + e.sizeBytes, 0),
        newBytes: infos.reduce((a, e) => a + e.newBytes, 0),
        storedBytes: infos.reduce((a, e) => a + e.storedBytes, 0),
      };
    } catch (err) {
      this.#state = 'aborted';
      throw err;
    }
  }

  /** Unknown plans (written after we started) that condemn a pack our manifest refers to. */
  async #intersectingNewPlans(): Promise<{ packId: string; graceMs: number }[]> {
    const ctx = this.#ctx;
    const mine = this.#mine();
    const out: { packId: string; graceMs: number }[] = [];
    for (const id of await ctx.listIds(prefixes.plans)) {
      if (this.#knownPlans.has(id)) continue;
      let plan;
      try {
        plan = await ctx.readPlan(id as PlanId);
      } catch {
        continue; // swept since listing: the existence check covers what it deleted
      }
      const hit = plan.packs.find((p) => mine.has(p));
      if (hit !== undefined) out.push({ packId: hit, graceMs: plan.graceMs });
    }
    return out;
  }

  #mine(): Set<string> {
    return new Set([...this.#reusedPacks, ...this.#written.map((p) => p.id)]);
  }

  /** The prune race rule of vault-format.md §11: a plan written after we started that condemns a pack we
   *  refer to is safe only while its sweep cannot have run yet (we are younger than half its grace). */
  async #checkPlans(): Promise<{ packId: string; graceMs: number }[]> {
    const hits = await this.#intersectingNewPlans();
    const ageMs = this.#ctx.clock.now().getTime() - this.#startedAt.getTime();
    const late = hits.find((h) => ageMs >= h.graceMs / 2);
    if (late) throw new TransientErrorPruneConflict(late.packId);
    // A plan swept completely before our listing is invisible above; its sweep deleted packs before
    // deleting the plan, so a pack of ours that it took is already missing here.
    await this.#checkPacksExist(this.#mine());
    return hits;
  }

  async #checkPacksExist(packs: Set<string>): Promise<void> {
    await mapLimit([...packs], 16, async (id) => {
      try {
        await this.#ctx.backend.stat(objectKey.pack(id));
      } catch (err) {
        if (err instanceof StorageErrorNotFound) throw new TransientErrorPruneConflict(id);
        throw err;
      }
    });
  }

  async abort(): Promise<void> {
    if (this.#state === 'done') throw new UserErrorConflict('this manifest is already committed', { hint: 'Use forget to remove a committed manifest.' });
    this.#state = 'aborted';
    await Promise.allSettled([...this.#running, ...this.#uploads]);
    this.#pack = undefined;
  }
}
