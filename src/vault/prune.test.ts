/** forget + two-phase prune: unreferenced data goes after the grace period, referenced data never, and a
 *  writer racing a prune either commits a loadable manifest or fails with TransientErrorPruneConflict. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/index.ts';
import { MemoryBackend, type StorageKey } from '../storage/index.ts';
import { collect, cheapKdf, seededBytes, smallChunker, streamOf } from './testing/test-data.ts';
import { IntegrityErrorObjectMissing, TransientErrorPruneConflict, Vault } from './index.ts';

const hour = 3600_000;
const grace = 24 * hour;

async function setup() {
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  const backend = new MemoryBackend({ clock });
  const vault = await Vault.create(backend, { passphrase: 'p', kdf: cheapKdf, chunker: smallChunker, clock, tuning: { packTargetBytes: 1 << 20 } });
  return { clock, backend, vault };
}

async function listKeys(b: MemoryBackend, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const k of b.list(prefix)) out.push(k);
  return out.sort();
}

describe('Vault.prune', () => {
  it('removes unreferenced packs only after the grace period, in two passes, and keeps referenced data', async () => {
    const { clock, backend, vault } = await setup();
    const keep = seededBytes(100 * 1024, 'keep');
    const kept = await vault.save(streamOf(keep), {});
    const gone = await vault.save(streamOf(seededBytes(100 * 1024, 'gone')), {});
    const packsBefore = await listKeys(backend, 'data/');
    expect(packsBefore).toHaveLength(2);
    await vault.forget(gone.id);
    expect(await vault.listManifests()).toEqual([kept.id]);

    // Too young: nothing is condemned.
    expect(await vault.prune({ graceMs: grace })).toMatchObject({ condemnedPacks: 0, deletedPacks: 0 });
    clock.advance(grace + 1);
    const dry = await vault.prune({ graceMs: grace, dryRun: true });
    expect(dry).toMatchObject({ condemnedPacks: 1, deletedPacks: 0 });
    expect(await listKeys(backend, 'prune/')).toEqual([]);
    const pass1 = await vault.prune({ graceMs: grace });
    expect(pass1).toMatchObject({ condemnedPacks: 1, deletedPacks: 0 });
    expect(await listKeys(backend, 'data/')).toEqual(packsBefore);
    // The plan waits for its grace period.
    expect(await vault.prune({ graceMs: grace })).toMatchObject({ waitingPlans: 1, deletedPacks: 0 });
    clock.advance(grace + 1);
    const pass2 = await vault.prune({ graceMs: grace });
    expect(pass2).toMatchObject({ sweptPlans: 1, deletedPacks: 1, keptPacks: 0 });
    expect(await listKeys(backend, 'data/')).toHaveLength(1);
    expect(await listKeys(backend, 'prune/')).toEqual([]);
    expect((await collect(vault.load(kept.id))).equals(keep)).toBe(true);
    expect((await vault.check({ readData: true })).ok).toBe(true);
  });

  it('collects packs of an aborted writer (in no index) after the grace period', async () => {
    const { clock, backend, vault } = await setup();
    const w = vault.beginManifest({});
    await w.addEntry('x', streamOf(seededBytes(2 << 20, 'orphan')));
    await w.abort();
    const orphans = await listKeys(backend, 'data/');
    expect(orphans.length).toBeGreaterThan(0);
    expect(await listKeys(backend, 'index/')).toEqual([]);
    clock.advance(grace + 1);
    await vault.prune({ graceMs: grace });
    clock.advance(grace + 1);
    expect(await vault.prune({ graceMs: grace })).toMatchObject({ deletedPacks: orphans.length });
    expect(await listKeys(backend, 'data/')).toEqual([]);
  });

  it('aborts and deletes nothing when referenced chunks are in no index file', async () => {
    const { clock, backend, vault } = await setup();
    await vault.save(streamOf(seededBytes(50 * 1024, 'ref')), {});
    const old = await vault.save(streamOf(seededBytes(50 * 1024, 'old')), {});
    await vault.forget(old.id);
    clock.advance(3 * grace);
    for (const k of await listKeys(backend, 'index/')) await backend.delete(k as StorageKey);
    const before = await listKeys(backend);
    await expect(vault.prune({ graceMs: grace })).rejects.toBeInstanceOf(IntegrityErrorObjectMissing);
    expect(await listKeys(backend)).toEqual(before);
  });

  it('aborts and deletes nothing when a referenced pack is missing', async () => {
    const { clock, backend, vault } = await setup();
    const kept = await vault.save(streamOf(seededBytes(50 * 1024, 'ref')), {});
    const keptPacks = await listKeys(backend, 'data/');
    const old = await vault.save(streamOf(seededBytes(50 * 1024, 'old')), {});
    await vault.forget(old.id);
    clock.advance(grace + 1);
    await vault.prune({ graceMs: grace }); // plan condemning the forgotten manifest's pack
    clock.advance(grace + 1);
    await backend.delete(keptPacks[0] as StorageKey);
    const before = await listKeys(backend);
    await expect(vault.prune({ graceMs: grace })).rejects.toBeInstanceOf(IntegrityErrorObjectMissing);
    expect(await listKeys(backend)).toEqual(before);
    expect((await vault.check()).problems[0]).toMatchObject({ kind: 'missing-pack', manifests: [kept.id] });
  });

  it('a writer that reuses chunks of a pack being condemned commits safely inside the grace period', async () => {
    const { clock, vault } = await setup();
    const data = seededBytes(100 * 1024, 'reuse');
    const first = await vault.save(streamOf(data), {});
    await vault.forget(first.id);
    clock.advance(grace + 1);
    const w = vault.beginManifest({});
    const e = await w.addEntry('x', streamOf(data));
    expect(e.newBytes).toBe(0); // dedup against the unreferenced pack
    const p1 = await vault.prune({ graceMs: grace });
    expect(p1.condemnedPacks).toBe(1);
    clock.advance(hour); // well inside grace/2
    const info = await w.commit();
    clock.advance(grace + 1);
    const p2 = await vault.prune({ graceMs: grace });
    expect(p2).toMatchObject({ sweptPlans: 1, keptPacks: 1, deletedPacks: 0 });
    expect((await collect(vault.load(info.id))).equals(data)).toBe(true);
    expect((await vault.check({ readData: true })).ok).toBe(true);
  });

  it('a writer that outlives half the grace period of a plan condemning its chunks refuses to commit', async () => {
    const { clock, vault } = await setup();
    const data = seededBytes(100 * 1024, 'slow');
    const first = await vault.save(streamOf(data), {});
    await vault.forget(first.id);
    clock.advance(grace + 1);
    const w = vault.beginManifest({});
    await w.addEntry('x', streamOf(data));
    await vault.prune({ graceMs: grace });
    clock.advance(grace + 1);
    await expect(w.commit()).rejects.toBeInstanceOf(TransientErrorPruneConflict);
    await vault.prune({ graceMs: grace });
    expect(await vault.listManifests()).toEqual([]);
    expect((await vault.check({ readData: true })).ok).toBe(true);
  });

  it('a writer that starts after a plan does not reuse condemned chunks', async () => {
    const { clock, vault } = await setup();
    const data = seededBytes(100 * 1024, 'after');
    const first = await vault.save(streamOf(data), {});
    await vault.forget(first.id);
    clock.advance(grace + 1);
    await vault.prune({ graceMs: grace });
    const again = await vault.save(streamOf(data), {});
    expect(again.newBytes).toBe(data.length);
    clock.advance(grace + 1);
    expect(await vault.prune({ graceMs: grace })).toMatchObject({ deletedPacks: 1 });
    expect((await collect(vault.load(again.id))).equals(data)).toBe(true);
  });

  it('prune running in a loop concurrently with writers never breaks a committed manifest', async () => {
    // The pruner moves the shared clock a sixth of the grace period per run, so plans ripen while saves
    // are in flight; every interleaving the event loop produces must leave committed manifests whole.
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const backend = new MemoryBackend({ clock });
    const opts = { passphrase: 'p', clock, tuning: { packTargetBytes: 32 * 1024 } };
    const vault = await Vault.create(backend, { ...opts, kdf: cheapKdf, chunker: smallChunker });
    const other = await Vault.open(backend, opts);
    const committed: { id: Awaited<ReturnType<Vault['save']>>['id']; data: Buffer }[] = [];
    let conflicts = 0;
    let stop = false;
    let swept = 0;
    let aborts = 0;
    const pruner = (async () => {
      let runs = 0;
      while (!stop) {
        try {
          swept += (await other.prune({ graceMs: hour })).deletedPacks;
        } catch (err) {
          // A writer that overran the grace period puts its manifest, sees the risk and deletes it again;
          // a prune that reads it in between finds its chunk gone and aborts, deleting nothing more. The
          // assertions below prove that nothing committed was lost.
          expect(err).toBeInstanceOf(IntegrityErrorObjectMissing);
          aborts++;
        }
        clock.advance(hour / 6);
        runs++;
        await new Promise((r) => setImmediate(r));
      }
      return runs;
    })();
    for (let i = 0; i < 30; i++) {
      // Part of each stream repeats earlier data so that writers reuse chunks that prune condemns.
      const data = Buffer.concat([seededBytes(60 * 1024, i % 4), seededBytes(40 * 1024, `new-${i}`)]);
      try {
        const info = await vault.save(streamOf(data, 5000), { i });
        committed.push({ id: info.id, data });
      } catch (err) {
        expect(err).toBeInstanceOf(TransientErrorPruneConflict);
        conflicts++;
      }
      if (committed.length > 2) await vault.forget(committed.shift()!.id);
    }
    stop = true;
    expect(await pruner).toBeGreaterThan(10);
    expect(swept).toBeGreaterThan(0);
    expect(committed.length).toBeGreaterThan(0);
    for (const c of committed) expect((await collect(vault.load(c.id))).equals(c.data)).toBe(true);
    expect((await vault.check({ readData: true })).problems).toEqual([]);
    void conflicts;
    void aborts;
  });
});
