/** The vault: a deduplicated, compressed, encrypted store of named byte streams grouped into manifests
 *  (recovery points) over any StorageBackend, as specified in docs/design/vault-format.md.
 *  It owns keys, save (via ManifestWriter), load, check and prune; it never overwrites an object, never
 *  deletes data outside prune's two-phase protocol, and never lets a key or passphrase reach a message. */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { systemClock, UserErrorInvalidInput, UserErrorNotFound, type Clock } from '../lib/index.ts';
import { StorageErrorAlreadyExists, StorageErrorNotFound, type StorageBackend } from '../storage/contract/index.ts';
import { defaultChunkerParams, type ChunkerParams } from './chunker/chunker.ts';
import { gearTable, vaultGearSeed } from './chunker/gear-table.ts';
import { checkVault, type CheckReport } from './check.ts';
import { defaultScryptParams, newMasterKey, unwrapMasterKey, wrapMasterKey, type KeyFile, type MasterKey, type ScryptParams } from './crypto/master-key.ts';
import {
  IntegrityErrorMalformedObject,
  UserErrorKeyInUse,
  UserErrorVaultExists,
  UserErrorVaultNotFound,
  UserErrorVaultVersionUnsupported,
  UserErrorWrongPassphrase,
} from './errors.ts';
import { parseKeyId, parseManifestId, randomObjectId, type KeyId, type ManifestId } from './ids.ts';
import type { Manifest, ManifestInfo } from './manifest/manifest.ts';
import { defaultWriterTuning, VaultManifestWriter, type ManifestWriter, type WriterTuning } from './manifest-writer.ts';
import { objectKey, prefixes } from './objects.ts';
import { pruneVault, type PruneReport } from './prune.ts';
import { readAll, VaultContext } from './vault-context.ts';

export interface VaultConfig {
  format: 'pgvault-vault';
  version: 1;
  id: string;
  createdAt: string;
  chunker: { algorithm: 'fastcdc-gear32-v1' } & ChunkerParams;
}

export interface KeyInfo {
  id: KeyId;
  createdAt: string;
  /** The key this Vault instance was opened with. */
  current: boolean;
  kdf: { name: 'scrypt'; N: number; r: number; p: number };
}

export interface VaultOpenOptions {
  passphrase: string;
  clock?: Clock;
  /** Save-path tuning (pack size, parallelism); defaults suit 2 cores and ≤ 128 MiB. */
  tuning?: Partial<WriterTuning>;
  /** Load path: chunks fetched ahead, and the byte budget of that window. */
  loadConcurrency?: number;
}

export interface VaultCreateOptions extends VaultOpenOptions {
  kdf?: ScryptParams;
  /** For tests that need small chunks; a vault records its parameters in its config. */
  chunker?: ChunkerParams;
}

/** A load fetches up to 4 chunks (and 16 MiB) ahead. On a 10 GiB load, 6 chunks ahead peaked at +126 MiB and 4 at
 *  +110/+113 MiB, at the same speed (a 700 MB load 1.05–1.26 s either way, side by side): fewer chunks opening on
 *  the workers at once leave less memory behind. The byte budget alone (24 or 16 MiB) changed nothing. */
const loadWindowBytes = 16 * 1024 * 1024;
const defaultLoadConcurrency = 4;

export class Vault {
  readonly id: string;
  readonly #ctx: VaultContext;
  readonly #keyId: KeyId;
  readonly #kdf: ScryptParams;
  readonly #tuning: WriterTuning;
  readonly #loadConcurrency: number;

  private constructor(ctx: VaultContext, keyId: KeyId, kdf: ScryptParams, opts: VaultOpenOptions) {
    this.#ctx = ctx;
    this.id = ctx.vaultId;
    this.#keyId = keyId;
    this.#kdf = kdf;
    this.#tuning = { ...defaultWriterTuning, ...opts.tuning };
    this.#loadConcurrency = opts.loadConcurrency ?? defaultLoadConcurrency;
  }

  static async create(backend: StorageBackend, opts: VaultCreateOptions): Promise<Vault> {
    checkPassphrase(opts.passphrase);
    const clock = opts.clock ?? systemClock;
    const kdf = opts.kdf ?? defaultScryptParams;
    const params = opts.chunker ?? defaultChunkerParams;
    try {
      await backend.stat(objectKey.config());
      throw new UserErrorVaultExists(backend.location);
    } catch (err) {
      if (!(err instanceof StorageErrorNotFound)) throw err;
    }
    const mk = newMasterKey();
    const config: VaultConfig = {
      format: 'pgvault-vault',
      version: 1,
      id: randomBytes(32).toString('hex'),
      createdAt: clock.now().toISOString(),
      chunker: { algorithm: 'fastcdc-gear32-v1', minBytes: params.minBytes, avgBytes: params.avgBytes, maxBytes: params.maxBytes },
    };
    // The key file goes first: a config without a key would be a vault nobody can open.
    const keyId = randomObjectId<KeyId>();
    const file = await wrapMasterKey(mk, opts.passphrase, keyId, config.id, kdf, clock.now());
    await backend.put(objectKey.key(keyId), Buffer.from(JSON.stringify(file)), { ifAbsent: true });
    try {
      await backend.put(objectKey.config(), Buffer.from(JSON.stringify(config, null, 2)), { ifAbsent: true });
    } catch (err) {
      if (err instanceof StorageErrorAlreadyExists) {
        await backend.delete(objectKey.key(keyId));
        throw new UserErrorVaultExists(backend.location);
      }
      throw err;
    }
    return new Vault(contextFor(backend, clock, mk, config), keyId, kdf, opts);
  }

  static async open(backend: StorageBackend, opts: VaultOpenOptions): Promise<Vault> {
    checkPassphrase(opts.passphrase);
    const clock = opts.clock ?? systemClock;
    let raw: Buffer;
    try {
      raw = await readAll(await backend.get(objectKey.config()));
    } catch (err) {
      if (err instanceof StorageErrorNotFound) throw new UserErrorVaultNotFound(backend.location);
      throw err;
    }
    let config: VaultConfig;
    try {
      config = JSON.parse(raw.toString('utf8')) as VaultConfig;
    } catch {
      throw new IntegrityErrorMalformedObject('the vault config', 'not JSON');
    }
    if (config.format !== 'pgvault-vault') throw new IntegrityErrorMalformedObject('the vault config', 'not a pgvault vault');
    if (config.version !== 1) throw new UserErrorVaultVersionUnsupported(backend.location, config.version);
    const keyIds = (await listAll(backend, prefixes.keys)).map((k) => k.slice(prefixes.keys.length));
    for (const id of keyIds) {
      const file = await readKeyFile(backend, id as KeyId);
      if (file.vaultId !== config.id) continue;
      const mk = await unwrapMasterKey(file, opts.passphrase, id as KeyId);
      if (mk) return new Vault(contextFor(backend, clock, mk, config), id as KeyId, { N: file.kdf.N, r: file.kdf.r, p: file.kdf.p }, opts);
    }
    throw new UserErrorWrongPassphrase(backend.location, { details: { keyFiles: keyIds.length } });
  }

  /** Adds a passphrase: a new key file wrapping the same master key. Data is not re-encrypted. */
  async addKey(newPassphrase: string, kdf?: ScryptParams): Promise<KeyId> {
    checkPassphrase(newPassphrase);
    const keyId = randomObjectId<KeyId>();
    const file = await wrapMasterKey(this.#ctx.mk, newPassphrase, keyId, this.id, kdf ?? this.#kdf, this.#ctx.clock.now());
    await this.#ctx.backend.put(objectKey.key(keyId), Buffer.from(JSON.stringify(file)), { ifAbsent: true });
    return keyId;
  }

  /** Removes a key file; refuses the key in use and the last key (UserErrorKeyInUse). */
  async removeKey(id: KeyId): Promise<void> {
    const keyId = parseKeyId(id);
    const keys = await this.listKeys();
    if (!keys.some((k) => k.id === keyId)) throw new UserErrorNotFound(`key "${keyId}" does not exist in this vault`, { hint: 'List the keys with listKeys.' });
    if (keyId === this.#keyId) throw new UserErrorKeyInUse(keyId, 'this vault was opened with it');
    if (keys.length <= 1) throw new UserErrorKeyInUse(keyId, 'it is the last key');
    await this.#ctx.backend.delete(objectKey.key(keyId));
  }

  async listKeys(): Promise<KeyInfo[]> {
    const ids = (await this.#ctx.list(prefixes.keys)).map((k) => k.slice(prefixes.keys.length));
    const out: KeyInfo[] = [];
    for (const id of ids) {
      const f = await readKeyFile(this.#ctx.backend, id as KeyId);
      if (f.vaultId !== this.id) continue;
      out.push({ id: id as KeyId, createdAt: f.createdAt, current: id === this.#keyId, kdf: { name: 'scrypt', N: f.kdf.N, r: f.kdf.r, p: f.kdf.p } });
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Starts a manifest; entries may be added concurrently; nothing is visible until commit(). */
  beginManifest(meta: Record<string, unknown>): ManifestWriter {
    return new VaultManifestWriter(this.#ctx, meta, this.#tuning, (packs, indexId) => {
      for (const p of packs) this.#ctx.index.addPack(p, indexId);
    });
  }

  /** One-entry shortcut: streams `stream` in as entry `entryName` (default "data") and commits. */
  async save(stream: Readable, meta: Record<string, unknown>, entryName = 'data'): Promise<ManifestInfo> {
    const w = this.beginManifest(meta);
    try {
      await w.addEntry(entryName, stream);
      return await w.commit();
    } catch (err) {
      await w.abort().catch(() => undefined);
      throw err;
    }
  }

  async listManifests(): Promise<ManifestId[]> {
    return (await this.#ctx.listIds(prefixes.manifests)) as ManifestId[];
  }

  async readManifest(id: ManifestId): Promise<Manifest> {
    const mid = parseManifestId(id);
    try {
      await this.#ctx.backend.stat(objectKey.manifest(mid));
    } catch (err) {
      if (err instanceof StorageErrorNotFound) throw new UserErrorNotFound(`manifest "${mid}" does not exist`, { hint: 'List the manifests of the vault.' });
      throw err;
    }
    return this.#ctx.readManifest(mid);
  }

  /** Streams an entry (or a byte range of it) back: chunks are fetched ahead in parallel, authenticated,
   *  decompressed, checked against their keyed ids (all on the worker threads) and emitted in order. `aheadShare`
   *  (0–1, default 1) is the part of the read-ahead window this load may use: several loads running at once
   *  (a parallel restore) share one window's memory. */
  load(id: ManifestId, entryName?: string, range?: { offset: number; length: number }, opts: { aheadShare?: number } = {}): Readable {
    return Readable.from(this.#loadChunks(id, entryName, range, this.#ahead(opts.aheadShare), false), { objectMode: false, highWaterMark: 1024 * 1024 });
  }

  /** The chunks of an entry (or a byte range of it) in order, checked as load() checks them, lent: a consumer
   *  gives each back with reuse() once nothing reads it any more, and the next chunks are decompressed into the
   *  buffers given back. A load that does so allocates no memory per chunk (SpareBuffers in vault-context.ts). */
  loadChunks(id: ManifestId, entryName?: string, range?: { offset: number; length: number }, opts: { aheadShare?: number } = {}): AsyncGenerator<Buffer> {
    return this.#loadChunks(id, entryName, range, this.#ahead(opts.aheadShare), true);
  }

  /** Gives back a chunk from loadChunks (or a part of one): its buffer takes a later chunk, so the caller must
   *  not read it, nor anything sharing its memory, afterwards. Other buffers are ignored. */
  reuse(chunk: Buffer): void {
    if (chunk.buffer instanceof ArrayBuffer) this.#ctx.spares.give(chunk.buffer);
  }

  /** The read-ahead window of a load that may use `share` (0–1) of it. */
  #ahead(share = 1): { chunks: number; bytes: number } {
    const s = Math.min(1, Math.max(0, share));
    return { chunks: Math.max(1, Math.round(this.#loadConcurrency * s)), bytes: Math.round(loadWindowBytes * s) };
  }

  async *#loadChunks(
    id: ManifestId,
    entryName: string | undefined,
    range: { offset: number; length: number } | undefined,
    ahead: { chunks: number; bytes: number },
    lend: boolean,
  ): AsyncGenerator<Buffer> {
    const m = await this.readManifest(id);
    const entry = entryName === undefined ? (m.entries.length === 1 ? m.entries[0] : undefined) : m.entries.find((e) => e.name === entryName);
    if (!entry) {
      throw entryName === undefined
        ? new UserErrorInvalidInput(`manifest "${id}" has ${m.entries.length} entries; name the one to load`, { hint: `Entries: ${m.entries.map((e) => e.name).join(', ')}` })
        : new UserErrorNotFound(`manifest "${id}" has no entry "${entryName}"`, { hint: `Entries: ${m.entries.map((e) => e.name).join(', ')}` });
    }
    let start = 0;
    let end = entry.sizeBytes;
    if (range) {
      if (!Number.isSafeInteger(range.offset) || !Number.isSafeInteger(range.length) || range.offset < 0 || range.length < 0) {
        throw new UserErrorInvalidInput('the byte range is invalid', { hint: 'offset and length are non-negative integers.' });
      }
      start = Math.min(range.offset, entry.sizeBytes);
      end = Math.min(entry.sizeBytes, start + range.length);
    }
    // Every chunk is checked against its keyed id, so the bytes of each are the ones saved under that id, and
    // the authenticated manifest says which ids in which order, each chunk where the one before ends
    // (validateManifest): the entry's SHA-256 would check the same again on this thread, serially (0.5 s of
    // a 2 s load of 755 MB). Consumers that write the stream out (restore as files, the spool file) check it.
    const chunks = entry.chunks.filter((c) => c.offset + c.length > start && c.offset < end);
    // Ordered prefetch window: bounded by count and by bytes.
    const window: { ref: (typeof chunks)[number]; data: Promise<Buffer> }[] = [];
    let windowBytes = 0;
    let next = 0;
    const fill = (): void => {
      while (next < chunks.length && window.length < ahead.chunks && (window.length === 0 || windowBytes + chunks[next]!.length <= ahead.bytes)) {
        const ref = chunks[next++]!;
        const data = this.#ctx.readChunk(ref.id, lend);
        data.catch(() => undefined); // awaited in order below
        window.push({ ref, data });
        windowBytes += ref.length;
      }
    };
    fill();
    // No forced young collections here (the save path has them, young-gc.ts). A loaded chunk waits in the
    // window and in the consumer's queue; extra scavenges promote such waiting chunks, whose buffers then stay
    // until a full collection. The external memory that builds up can send V8 into a full collection every
    // ~45 ms for the rest of a load (25-39 of them instead of 3: 1.8-2.2 s and +102-127 MiB instead of
    // 1.2-1.5 s and +71-89 for a 755 MB dump). Side by side that happened in 7 of 16 loads with the forced
    // scavenges and in 3 of 20 without; V8's own scavenges free the chunks.
    while (window.length > 0) {
      const { ref, data } = window.shift()!;
      const buf = await data;
      if (buf.length !== ref.length) throw new IntegrityErrorMalformedObject(`manifest "${id}"`, `chunk ${ref.id} of entry "${entry.name}" is ${buf.length} bytes, the manifest says ${ref.length}`);
      windowBytes -= ref.length;
      fill();
      const from = Math.max(0, start - ref.offset);
      const to = Math.min(buf.length, end - ref.offset);
      yield from === 0 && to === buf.length ? buf : buf.subarray(from, to);
    }
  }

  /** Removes the manifest object only; its data goes at a later prune. */
  async forget(id: ManifestId): Promise<void> {
    const mid = parseManifestId(id);
    await this.readManifest(mid); // not found → UserErrorNotFound; it also proves the id belongs to this vault
    await this.#ctx.backend.delete(objectKey.manifest(mid));
  }

  /** Two-phase prune (vault-format.md §11). Aborts, deleting nothing, when a referenced object is missing. */
  prune(opts: { graceMs?: number; dryRun?: boolean } = {}): Promise<PruneReport> {
    return pruneVault(this.#ctx, { graceMs: opts.graceMs ?? 24 * 3600 * 1000, dryRun: opts.dryRun ?? false });
  }

  /** Verifies structure, and with readData every blob; lists each problem with the manifests it affects. */
  check(opts: { readData?: boolean } = {}): Promise<CheckReport> {
    return checkVault(this.#ctx, { readData: opts.readData ?? false });
  }

  async close(): Promise<void> {
    await this.#ctx.close();
    this.#ctx.index.blobs.clear();
    this.#ctx.index.packs.clear();
    this.#ctx.index.indexIds.clear();
  }
}

function checkPassphrase(p: string): void {
  if (typeof p !== 'string' || p.length === 0) throw new UserErrorInvalidInput('the vault passphrase is empty', { hint: 'Give the vault a non-empty passphrase through its credential reference.' });
}

function contextFor(backend: StorageBackend, clock: Clock, mk: MasterKey, config: VaultConfig): VaultContext {
  const params = { minBytes: config.chunker.minBytes, avgBytes: config.chunker.avgBytes, maxBytes: config.chunker.maxBytes };
  return new VaultContext(backend, clock, mk, config.id, gearTable(vaultGearSeed(mk.idKey)), params);
}

async function listAll(backend: StorageBackend, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of backend.list(prefix)) out.push(k);
  return out;
}

async function readKeyFile(backend: StorageBackend, id: KeyId): Promise<KeyFile> {
  const raw = await readAll(await backend.get(objectKey.key(id)));
  try {
    const f = JSON.parse(raw.toString('utf8')) as KeyFile;
    if (f.version !== 1 || f.kdf?.name !== 'scrypt' || typeof f.wrapped !== 'string') throw new Error('not a version 1 key file');
    return f;
  } catch (err) {
    throw new IntegrityErrorMalformedObject(`key file "${id}"`, err instanceof Error ? err.message : String(err));
  }
}

