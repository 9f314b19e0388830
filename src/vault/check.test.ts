/** check and check --read-data find each kind of damage, name the manifests it affects, and delete nothing. */
import { describe, expect, it } from 'vitest';
import { MemoryBackend, type StorageKey } from '../storage/index.ts';
import { collect, cheapKdf, seededBytes, smallChunker, streamOf } from './testing/test-data.ts';
import { Vault, type ManifestId } from './index.ts';

async function listKeys(b: MemoryBackend, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const k of b.list(prefix)) out.push(k);
  return out.sort();
}

/** Two manifests sharing nothing, each in its own pack(s), plus the pack of manifest A. */
async function setup(): Promise<{ vault: Vault; backend: MemoryBackend; a: ManifestId; b: ManifestId; packOfA: StorageKey; indexOfA: StorageKey }> {
  const backend = new MemoryBackend();
  const vault = await Vault.create(backend, { passphrase: 'p', kdf: cheapKdf, chunker: smallChunker, tuning: { packTargetBytes: 1 << 20 } });
  const a = (await vault.save(streamOf(seededBytes(120 * 1024, 'A')), { name: 'A' })).id;
  const packsAfterA = await listKeys(backend, 'data/');
  const indexAfterA = await listKeys(backend, 'index/');
  const b = (await vault.save(streamOf(seededBytes(120 * 1024, 'B')), { name: 'B' })).id;
  expect(packsAfterA).toHaveLength(1);
  return { vault, backend, a, b, packOfA: packsAfterA[0] as StorageKey, indexOfA: indexAfterA[0] as StorageKey };
}

describe('Vault.check', () => {
  it('is clean on a healthy vault, with and without reading data', async () => {
    const { vault } = await setup();
    const s = await vault.check();
    expect(s).toMatchObject({ ok: true, problems: [], manifests: 2, packs: 2, indexFiles: 2 });
    const r = await vault.check({ readData: true });
    expect(r.ok).toBe(true);
    expect(r.bytesRead).toBeGreaterThan(0);
    expect(r.blobs).toBeGreaterThan(4);
  });

  it('a flipped bit: invisible to the structure check, found by --read-data with the affected manifest', async () => {
    const { vault, backend, a, packOfA } = await setup();
    const body = await collect(await backend.get(packOfA));
    body[40]! ^= 0x10;
    await backend.put(packOfA, body);
    const before = await listKeys(backend);
    expect((await vault.check()).ok).toBe(true);
    const r = await vault.check({ readData: true });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind)).toEqual(['damaged-blob']);
    expect(r.problems[0]!.manifests).toEqual([a]);
    expect(r.problems[0]!.object).toBe(packOfA);
    expect(await listKeys(backend)).toEqual(before);
  });

  it('a truncated pack is found by the structure check with the affected manifest', async () => {
    const { vault, backend, a, packOfA } = await setup();
    const body = await collect(await backend.get(packOfA));
    await backend.put(packOfA, body.subarray(0, Math.floor(body.length / 2)));
    const before = await listKeys(backend);
    const r = await vault.check();
    expect(r.problems.map((p) => p.kind)).toEqual(['truncated-pack']);
    expect(r.problems[0]!.manifests).toEqual([a]);
    const rd = await vault.check({ readData: true });
    expect(rd.problems.map((p) => p.kind)).toContain('damaged-pack-header');
    expect(rd.problems.every((p) => p.manifests.every((m) => m === a))).toBe(true);
    expect(await listKeys(backend)).toEqual(before);
  });

  it('a deleted pack is reported with the manifest that needs it', async () => {
    const { vault, backend, a, packOfA } = await setup();
    await backend.delete(packOfA);
    const before = await listKeys(backend);
    const r = await vault.check();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ kind: 'missing-pack', object: packOfA, manifests: [a] });
    expect((await vault.check({ readData: true })).problems.map((p) => p.kind)).toEqual(['missing-pack']);
    expect(await listKeys(backend)).toEqual(before);
  });

  it('a deleted index file is reported as chunks in no index, with the manifest affected', async () => {
    const { vault, backend, a, indexOfA } = await setup();
    await backend.delete(indexOfA);
    const before = await listKeys(backend);
    const r = await vault.check();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ kind: 'missing-chunks', manifests: [a] });
    expect(r.unindexedPacks).toBe(1);
    expect(await listKeys(backend)).toEqual(before);
  });

  it('a damaged manifest or index file is reported, not skipped', async () => {
    const { vault, backend, b, indexOfA } = await setup();
    const mkey = `manifests/${b}` as StorageKey;
    const m = await collect(await backend.get(mkey));
    m[m.length - 1]! ^= 1;
    await backend.put(mkey, m);
    const ix = await collect(await backend.get(indexOfA));
    ix[20]! ^= 1;
    await backend.put(indexOfA, ix);
    const kinds = (await vault.check()).problems.map((p) => p.kind).sort();
    expect(kinds).toEqual(['missing-chunks', 'unreadable-index', 'unreadable-manifest']);
  });
});
