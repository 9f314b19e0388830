/** Vault round trips, dedup, keys and tampering on the in-memory storage driver. */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaultyBackend, MemoryBackend, RetryingBackend, TransientErrorStorageUnavailable, type StorageKey } from '../storage/index.ts';
import { associatedData } from './crypto/envelope.ts';
import { unwrapMasterKey } from './crypto/master-key.ts';
import type { Manifest } from './manifest/manifest.ts';
import { objectKey, openJson, sealJson } from './objects.ts';
import { decodePackHeader, packHeaderBytes } from './pack/pack-format.ts';
import { collect, cheapKdf, seededBytes, smallChunker, streamOf } from './testing/test-data.ts';
import {
  IntegrityErrorAuthenticationFailed,
  IntegrityErrorMalformedObject,
  UserErrorKeyInUse,
  UserErrorVaultExists,
  UserErrorVaultNotFound,
  UserErrorWrongPassphrase,
  Vault,
  type ManifestId,
} from './index.ts';

const pass = 'correct horse battery staple';

async function newVault(backend = new MemoryBackend()): Promise<{ vault: Vault; backend: MemoryBackend }> {
  const vault = await Vault.create(backend, { passphrase: pass, kdf: cheapKdf, chunker: smallChunker, tuning: { packTargetBytes: 64 * 1024 } });
  return { vault, backend };
}

async function keys(backend: MemoryBackend, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of backend.list(prefix)) out.push(k);
  return out.sort();
}

/** The vault's data key, from its (only) key file and the test passphrase. */
async function dataKeyOf(backend: MemoryBackend): Promise<Uint8Array> {
  const [keyName] = await keys(backend, 'keys/');
  const keyFile = JSON.parse((await collect(await backend.get(keyName as StorageKey))).toString('utf8'));
  return (await unwrapMasterKey(keyFile, pass, keyName!.slice('keys/'.length) as never))!.dataKey;
}

describe('Vault save and load', () => {
  it('a source that fails before the writer is ready rejects its entry; no unhandled error, nothing committed', async () => {
    const { vault, backend } = await newVault();
    const realList = backend.list.bind(backend);
    backend.list = async function* (prefix: string) {
      await new Promise((r) => setTimeout(r, 50)); // a slow listing: the writer is not ready when the source fails
      yield* realList(prefix);
    } as typeof backend.list;
    const w = vault.beginManifest({});
    const source = new Readable({ read() {} });
    const entry = w.addEntry('early', source);
    source.destroy(new Error('pg_dump exited before writing a byte'));
    await expect(entry).rejects.toThrow('pg_dump exited before writing a byte');
    await w.abort();
    expect(await vault.listManifests()).toEqual([]);
  });

  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['tiny', 100],
    ['multi-chunk', 300 * 1024],
  ])('round-trips a %s stream byte-identical', async (_label, n) => {
    const { vault } = await newVault();
    const data = seededBytes(n, n);
    const info = await vault.save(streamOf(data, 7919), { kind: 'test' }, 'db/app.dump');
    expect(info.sizeBytes).toBe(n);
    const m = await vault.readManifest(info.id);
    expect(m.meta).toEqual({ kind: 'test' });
    expect(m.entries[0]!.name).toBe('db/app.dump');
    expect(m.entries[0]!.sha256).toBe(info.entries[0]!.sha256);
    if (n > 200 * 1024) expect(m.entries[0]!.chunks.length).toBeGreaterThan(3);
    expect((await collect(vault.load(info.id))).equals(data)).toBe(true);
    expect((await collect(vault.load(info.id, 'db/app.dump'))).equals(data)).toBe(true);
  });

  it('loads any byte range of a multi-chunk entry', async () => {
    const { vault } = await newVault();
    const data = seededBytes(200 * 1024, 'ranges');
    const info = await vault.save(streamOf(data), {});
    await fc.assert(
      fc.asyncProperty(fc.nat(data.length + 10), fc.nat(data.length + 10), async (offset, length) => {
        const got = await collect(vault.load(info.id, undefined, { offset, length }));
        expect(got.equals(data.subarray(offset, offset + length))).toBe(true);
      }),
      { numRuns: 40 },
    );
    // A load with a small share of the read-ahead window (one chunk ahead) returns the same bytes.
    expect((await collect(vault.load(info.id, undefined, undefined, { aheadShare: 0.01 }))).equals(data)).toBe(true);
    expect((await collect(vault.load(info.id, undefined, { offset: 1000, length: 150_000 }, { aheadShare: 0.5 }))).equals(data.subarray(1000, 151_000))).toBe(true);
  });

  it('lends chunks: those given back take later chunks, with the same bytes as load(); foreign buffers are ignored', async () => {
    const { vault } = await newVault();
    const data = seededBytes(600 * 1024, 'lend');
    const info = await vault.save(streamOf(data), {});
    const foreign = Buffer.alloc(2 * 1024 * 1024);
    vault.reuse(foreign);
    const lend = async (range?: { offset: number; length: number }): Promise<{ bytes: Buffer; buffers: ArrayBufferLike[] }> => {
      const parts: Buffer[] = [];
      const buffers: ArrayBufferLike[] = [];
      for await (const c of vault.loadChunks(info.id, undefined, range)) {
        parts.push(Buffer.from(c));
        buffers.push(c.buffer);
        c.fill(0x5a); // what the next user of the buffer would do: nothing read later may see it
        vault.reuse(c);
      }
      return { bytes: Buffer.concat(parts), buffers };
    };
    const all = await lend();
    expect(all.bytes.equals(data)).toBe(true);
    expect(all.buffers.length).toBeGreaterThan(20);
    // A buffer given back travels to a worker for a later chunk (it is detached here: zero bytes long); only the
    // last few, given back after the last chunk was read, are still here. The foreign buffer was never taken.
    expect(all.buffers.slice(0, -6).every((b) => b.byteLength === 0)).toBe(true);
    expect(foreign.buffer.byteLength).toBe(2 * 1024 * 1024);
    const part = await lend({ offset: 12_345, length: 400_000 });
    expect(part.bytes.equals(data.subarray(12_345, 412_345))).toBe(true);
    // Chunks kept by the caller stay as they are.
    const kept: Buffer[] = [];
    for await (const c of vault.loadChunks(info.id)) kept.push(c);
    expect(Buffer.concat(kept).equals(data)).toBe(true);
    await lend();
    expect(Buffer.concat(kept).equals(data)).toBe(true);
  });

  it('writes several entries of one manifest concurrently, and nothing is visible before commit', async () => {
    const { vault, backend } = await newVault();
    const a = seededBytes(150 * 1024, 'a');
    const b = seededBytes(90 * 1024, 'b');
    const w = vault.beginManifest({ point: 'whole-server' });
    const [ia, ib] = await Promise.all([w.addEntry('db/a.dump', streamOf(a, 1000)), w.addEntry('globals.sql', streamOf(b, 3333))]);
    expect(ia.sizeBytes).toBe(a.length);
    expect(ib.chunkCount).toBeGreaterThan(1);
    expect(await vault.listManifests()).toEqual([]);
    const info = await w.commit();
    expect(await keys(backend, 'manifests/')).toEqual([`manifests/${info.id}`]);
    expect((await collect(vault.load(info.id, 'db/a.dump'))).equals(a)).toBe(true);
    expect((await collect(vault.load(info.id, 'globals.sql'))).equals(b)).toBe(true);
    await expect(collect(vault.load(info.id))).rejects.toMatchObject({ code: 'UserErrorInvalidInput' });
    await expect(collect(vault.load(info.id, 'nope'))).rejects.toMatchObject({ code: 'UserErrorNotFound' });
  });

  it('aborting a manifest makes nothing visible', async () => {
    const { vault } = await newVault();
    const w = vault.beginManifest({});
    await w.addEntry('x', streamOf(seededBytes(100 * 1024, 'abort')));
    await w.abort();
    expect(await vault.listManifests()).toEqual([]);
    await expect(w.commit()).rejects.toMatchObject({ code: 'UserErrorConflict' });
  });

  it('a second save of the same data stores ~0 new bytes; a middle insertion stores only nearby chunks', async () => {
    const { vault } = await newVault();
    const data = seededBytes(512 * 1024, 'dedup');
    const first = await vault.save(streamOf(data), {});
    expect(first.newBytes).toBe(data.length);
    const again = await vault.save(streamOf(data, 1234), {});
    expect(again.newBytes).toBe(0);
    expect(again.storedBytes).toBe(0);
    const edited = Buffer.concat([data.subarray(0, 250 * 1024), Buffer.from('an inserted row'), data.subarray(250 * 1024)]);
    const third = await vault.save(streamOf(edited), {});
    // Only the chunk(s) around the insertion are new: at most two max-size chunks of 64 KiB.
    expect(third.newBytes).toBeGreaterThan(0);
    expect(third.newBytes).toBeLessThanOrEqual(2 * smallChunker.maxBytes);
    expect((await collect(vault.load(third.id))).equals(edited)).toBe(true);
  });

  it('compresses compressible data', async () => {
    const { vault } = await newVault();
    const text = Buffer.from('INSERT INTO t VALUES (1, \'hello world\');\n'.repeat(10_000));
    const info = await vault.save(streamOf(text), {});
    expect(info.storedBytes).toBeLessThan(text.length / 10);
    expect((await collect(vault.load(info.id))).equals(text)).toBe(true);
  });

  it('applies backpressure: the source is read only as fast as packs are stored', async () => {
    const backend = new MemoryBackend();
    // Staging slabs of 128 KiB, at most 1 MiB of them (the default is 16 MiB per entry).
    const tuning = { packTargetBytes: 64 * 1024, slabBytes: 128 * 1024, maxSlabBytes: 1024 * 1024 };
    const vault = await Vault.create(backend, { passphrase: pass, kdf: cheapKdf, chunker: smallChunker, tuning });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const realPut = backend.put.bind(backend);
    backend.put = async (key: StorageKey, body, opts) => {
      if (key.startsWith('data/')) await gate;
      return realPut(key, body, opts);
    };
    let produced = 0;
    const total = 8 * 1024 * 1024;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < total / 65536; i++) {
          produced += 65536;
          yield seededBytes(65536, i);
        }
      })(),
      { objectMode: false },
    );
    const saving = vault.save(source, {});
    await new Promise((r) => setTimeout(r, 300));
    // Uploads are blocked: the writer may hold its staging slabs (1 MiB), a few packs (64 KiB here) and the
    // source's own buffering, not the whole stream.
    expect(produced).toBeLessThan(2 * 1024 * 1024);
    expect(produced).toBeGreaterThan(0);
    release();
    const info = await saving;
    expect(info.sizeBytes).toBe(total);
  });
  it('fills packs up to their buffer, closing one before an envelope that would not fit; every blob loads back', async () => {
    const backend = new MemoryBackend();
    // 100 KiB packs of incompressible chunks up to 64 KiB: most packs close before an envelope that would
    // overflow the 100 KiB buffer, the rest when they reach it; one upload at a time, so 2 buffers in turn.
    const tuning = { packTargetBytes: 100 * 1024, maxPackUploads: 1 };
    const vault = await Vault.create(backend, { passphrase: pass, kdf: cheapKdf, chunker: smallChunker, tuning });
    const data = seededBytes(3 * 1024 * 1024, 'packs');
    const info = await vault.save(streamOf(data), {});
    const packs = await keys(backend, 'data/');
    expect(packs.length).toBeGreaterThan(20);
    const sizes = await Promise.all(packs.map(async (k) => (await backend.stat(k as StorageKey)).sizeBytes));
    // blobs and header within the buffer: 100 KiB and room for a header of 256 blobs
    for (const size of sizes) expect(size).toBeLessThanOrEqual(100 * 1024 + packHeaderBytes(256));
    expect(sizes.filter((s) => s < 100 * 1024 - 64 * 1024).length).toBeLessThanOrEqual(1); // only the last is short
    expect((await collect(vault.load(info.id))).equals(data)).toBe(true);
    expect((await vault.check({ readData: true })).ok).toBe(true);
  });

  it('an envelope larger than the kept pack buffers goes into a pack of its own; all of it loads back', async () => {
    const backend = new MemoryBackend();
    // 8 KiB pack target, incompressible chunks of 4-64 KiB (16 KiB on average): a chunk above the kept buffer
    // (8 KiB and room for a header of 256 blobs) gets a one-off buffer, in a pack holding that blob alone.
    const tuning = { packTargetBytes: 8 * 1024, maxPackUploads: 1 };
    const vault = await Vault.create(backend, { passphrase: pass, kdf: cheapKdf, chunker: smallChunker, tuning });
    const data = seededBytes(2 * 1024 * 1024, 'oversize');
    const info = await vault.save(streamOf(data), {});
    const dataKey = await dataKeyOf(backend);
    const kept = 8 * 1024 + packHeaderBytes(256);
    let oversize = 0;
    for (const key of await keys(backend, 'data/')) {
      const pack = await collect(await backend.get(key as StorageKey));
      if (pack.length <= kept) continue;
      oversize++;
      const headerLength = pack.readUInt32LE(pack.length - 4);
      const blobs = decodePackHeader(dataKey, key.slice(key.lastIndexOf('/') + 1), pack.subarray(pack.length - 4 - headerLength, pack.length - 4));
      expect(blobs.length).toBe(1);
      expect(pack.length).toBe(blobs[0]!.length + packHeaderBytes(1));
    }
    expect(oversize).toBeGreaterThan(5);
    expect((await collect(vault.load(info.id))).equals(data)).toBe(true);
    expect((await vault.check({ readData: true })).ok).toBe(true);
  });

  it('a load refuses a manifest whose chunks leave a gap or are not as long as it says', async () => {
    const { vault, backend } = await newVault();
    const data = seededBytes(600 * 1024, 'tiling');
    const info = await vault.save(streamOf(data), {});
    // Rewrite the manifest as only pgvault could (sealed with the data key): these are pgvault bugs, not attacks.
    const dataKey = await dataKeyOf(backend);
    const mkey = objectKey.manifest(info.id);
    const original = openJson<Manifest>(dataKey, associatedData.manifest(info.id), await collect(await backend.get(mkey)), 'manifest');
    const rewrite = async (change: (m: Manifest) => void): Promise<void> => {
      const m = structuredClone(original);
      change(m);
      await backend.put(mkey, await sealJson(dataKey, associatedData.manifest(info.id), m));
    };
    expect(original.entries[0]!.chunks.length).toBeGreaterThan(3);
    await rewrite((m) => m.entries[0]!.chunks.splice(1, 1)); // a chunk left out: a gap
    await expect(collect(vault.load(info.id))).rejects.toThrow(IntegrityErrorMalformedObject);
    await rewrite((m) => {
      const c = m.entries[0]!.chunks;
      expect(c[1]!.length).not.toBe(c[2]!.length);
      c[1] = { ...c[1]!, id: c[2]!.id }; // another chunk's id in this place: its bytes are not this place's length
    });
    await expect(collect(vault.load(info.id))).rejects.toThrow(IntegrityErrorMalformedObject);
    await rewrite(() => undefined);
    expect((await collect(vault.load(info.id))).equals(data)).toBe(true);
  });

  it('a pack whose upload landed but whose reply was lost is retried and recognised, not failed', async () => {
    const inner = new MemoryBackend();
    // The second pack's put reaches the store and then fails (a lost reply, after the whole body was read):
    // a pack is one Buffer, so the retrying layer sends it again and accepts the identical object it finds.
    const faulty = new FaultyBackend(inner).inject({ verb: 'put', key: 'data/', nth: 2, fault: { kind: 'error-after', error: () => new TransientErrorStorageUnavailable('the reply was lost') } });
    const backend = new RetryingBackend(faulty, { sleep: () => Promise.resolve() });
    const vault = await Vault.create(backend, { passphrase: pass, kdf: cheapKdf, chunker: smallChunker, tuning: { packTargetBytes: 100 * 1024 } });
    const data = seededBytes(1024 * 1024, 'retried');
    const info = await vault.save(streamOf(data), {});
    expect((await keys(inner, 'data/')).length).toBeGreaterThan(3);
    expect((await collect(vault.load(info.id))).equals(data)).toBe(true);
    expect((await vault.check({ readData: true })).ok).toBe(true);
  });

  it('a pack upload that fails while the source waits for staging room fails the save; it does not hang', async () => {
    const backend = new MemoryBackend();
    const tuning = { packTargetBytes: 64 * 1024, slabBytes: 128 * 1024, maxSlabBytes: 512 * 1024 };
    const vault = await Vault.create(backend, { passphrase: pass, kdf: cheapKdf, chunker: smallChunker, tuning });
    const realPut = backend.put.bind(backend);
    let packs = 0;
    backend.put = async (key: StorageKey, body, opts) => {
      if (key.startsWith('data/') && ++packs === 3) throw new Error('disk quota exceeded');
      return realPut(key, body, opts);
    };
    const err = await vault.save(streamOf(seededBytes(8 * 1024 * 1024, 'q')), {}).catch((e: unknown) => e);
    expect(String(err)).toContain('disk quota exceeded');
    expect(await keys(backend, 'manifests/')).toEqual([]);
    // The vault stays usable: the next save commits and loads back.
    backend.put = realPut;
    const data = seededBytes(300_000, 'after');
    const info = await vault.save(streamOf(data), {});
    expect((await collect(vault.load(info.id))).equals(data)).toBe(true);
  });
});

describe('Vault keys', () => {
  it('refuses a wrong passphrase with a coded error and a hint', async () => {
    const { backend } = await newVault();
    const err = await Vault.open(backend, { passphrase: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorWrongPassphrase);
    expect((err as UserErrorWrongPassphrase).hint).toBeTruthy();
    expect(String((err as Error).message)).not.toContain('wrong');
  });

  it('opens with any added key; removes keys but never the one in use or the last', async () => {
    const { vault, backend } = await newVault();
    const data = seededBytes(50_000, 'keys');
    const info = await vault.save(streamOf(data), {});
    const second = await vault.addKey('second passphrase', cheapKdf);
    const viaSecond = await Vault.open(backend, { passphrase: 'second passphrase' });
    expect(viaSecond.id).toBe(vault.id);
    expect((await collect(viaSecond.load(info.id))).equals(data)).toBe(true);
    const listed = await vault.listKeys();
    expect(listed).toHaveLength(2);
    expect(listed.find((k) => k.current)?.id).not.toBe(second);
    await expect(viaSecond.removeKey(second)).rejects.toBeInstanceOf(UserErrorKeyInUse);
    const first = listed.find((k) => k.current)!.id;
    await viaSecond.removeKey(first);
    await expect(Vault.open(backend, { passphrase: pass })).rejects.toBeInstanceOf(UserErrorWrongPassphrase);
    expect((await viaSecond.listKeys()).map((k) => k.id)).toEqual([second]);
  });

  it('refuses to create over an existing vault and to open an empty location', async () => {
    const { backend } = await newVault();
    await expect(Vault.create(backend, { passphrase: pass, kdf: cheapKdf })).rejects.toBeInstanceOf(UserErrorVaultExists);
    await expect(Vault.open(new MemoryBackend(), { passphrase: pass })).rejects.toBeInstanceOf(UserErrorVaultNotFound);
  });

  it('stores nothing in the clear: no plaintext, meta or entry name reaches storage', async () => {
    const { vault, backend } = await newVault();
    const marker = 'SECRET-ROW-CONTENT-0123456789';
    await vault.save(streamOf(Buffer.from(marker.repeat(1000))), { database: 'billing-db-name' }, 'db/billing-entry');
    for (const k of await keys(backend, '')) {
      const body = await collect(await backend.get(k as StorageKey));
      for (const needle of [marker, 'billing-db-name', 'billing-entry', pass]) expect(body.includes(needle)).toBe(false);
    }
  });
});

describe('Vault load integrity', () => {
  it('fails with an integrity error when a pack bit flips, never returning wrong bytes', async () => {
    const { vault, backend } = await newVault();
    const data = seededBytes(100 * 1024, 'flip');
    const info = await vault.save(streamOf(data), {});
    const [packKey] = await keys(backend, 'data/');
    const body = await collect(await backend.get(packKey as StorageKey));
    body[100]! ^= 0x01;
    await backend.put(packKey as StorageKey, body);
    const err = await collect(vault.load(info.id as ManifestId)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityErrorAuthenticationFailed);
  });
});
