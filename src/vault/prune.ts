/** prune (vault-format.md §11): pass 2 sweeps plans older than their grace period after re-reading every
 *  manifest; pass 1 condemns unreferenced packs older than the grace period into a new plan.
 *  It deletes nothing when anything referenced is missing or unreadable, and never a pack holding a
 *  chunk that any manifest refers to. Index files are replaced before the packs they name are deleted. */
import { StorageErrorNotFound } from '../storage/contract/index.ts';
import { associatedData } from './crypto/envelope.ts';
import { IntegrityErrorObjectMissing } from './errors.ts';
import { randomObjectId, type ManifestId, type PlanId } from './ids.ts';
import type { IndexedPack, IndexFile } from './index/vault-index.ts';
import { idOfKey, objectKey, prefixes, sealJson } from './objects.ts';
import type { PrunePlan, VaultContext } from './vault-context.ts';

export interface PruneReport {
  dryRun: boolean;
  /** Plans swept in this run (pass 2). */
  sweptPlans: number;
  deletedPacks: number;
  deletedBytes: number;
  /** Condemned packs that a manifest refers to again: kept. */
  keptPacks: number;
  rewrittenIndexFiles: number;
  /** The plan written by this run (pass 1), if any. */
  planId?: PlanId;
  condemnedPacks: number;
  condemnedBytes: number;
  /** Plans still inside their grace period. */
  waitingPlans: number;
}

interface State {
  referenced: Set<string>;
  indexFiles: Map<string, IndexFile>;
  packsIndexed: Map<string, IndexedPack>;
  present: Map<string, { sizeBytes: number; modifiedAt: Date }>;
  /** blobId → every indexed pack holding it. */
  blobPacks: Map<string, string[]>;
}

/** Reads everything prune decides on; throws IntegrityErrorObjectMissing (so nothing is deleted) when a
 *  manifest or index file is unreadable or a referenced chunk or its pack is missing. */
async function readState(ctx: VaultContext): Promise<State> {
  const manifestIds = (await ctx.listIds(prefixes.manifests)) as ManifestId[];
  const referenced = new Set<string>();
  for (const id of manifestIds) {
    let m;
    try {
      m = await ctx.readManifest(id);
    } catch (err) {
      if (err instanceof IntegrityErrorObjectMissing) continue; // forgotten since listing
      throw err;
    }
    for (const e of m.entries) for (const c of e.chunks) referenced.add(c.id);
  }
  const indexFiles = new Map<string, IndexFile>();
  const packsIndexed = new Map<string, IndexedPack>();
  for (const id of await ctx.listIds(prefixes.index)) {
    const f = await ctx.readIndexFile(id);
    indexFiles.set(id, f);
    for (const p of f.packs) if (!packsIndexed.has(p.id)) packsIndexed.set(p.id, p);
  }
  const present = new Map<string, { sizeBytes: number; modifiedAt: Date }>();
  for (const key of await ctx.list(prefixes.packs)) {
    const id = idOfKey(key);
    try {
      const st = await ctx.backend.stat(objectKey.pack(id));
      present.set(id, st);
    } catch (err) {
      if (!(err instanceof StorageErrorNotFound)) throw err;
    }
  }
  const blobPacks = new Map<string, string[]>();
  for (const p of packsIndexed.values()) for (const b of p.blobs) (blobPacks.get(b.id) ?? blobPacks.set(b.id, []).get(b.id)!).push(p.id);
  for (const b of referenced) {
    const homes = blobPacks.get(b);
    if (!homes) throw new IntegrityErrorObjectMissing(`chunk "${b}" referenced by a manifest (in no index file); prune aborted`);
    if (!homes.some((h) => present.has(h))) throw new IntegrityErrorObjectMissing(`pack "${homes[0]}" holding referenced chunk "${b}"; prune aborted`);
  }
  return { referenced, indexFiles, packsIndexed, present, blobPacks };
}

export async function pruneVault(ctx: VaultContext, opts: { graceMs: number; dryRun: boolean }): Promise<PruneReport> {
  const report: PruneReport = { dryRun: opts.dryRun, sweptPlans: 0, deletedPacks: 0, deletedBytes: 0, keptPacks: 0, rewrittenIndexFiles: 0, condemnedPacks: 0, condemnedBytes: 0, waitingPlans: 0 };
  const now = () => ctx.clock.now().getTime();

  // Plans first; state after, so that manifests committed up to now are seen by the sweep.
  const plans = new Map<string, PrunePlan>();
  for (const id of await ctx.listIds(prefixes.plans)) plans.set(id, await ctx.readPlan(id as PlanId));
  let state = await readState(ctx);

  // Pass 2: sweep ripe plans.
  const stillCondemned = new Set<string>();
  for (const [planId, plan] of plans) {
    if (now() - Date.parse(plan.createdAt) < plan.graceMs) {
      report.waitingPlans++;
      for (const p of plan.packs) stillCondemned.add(p);
      continue;
    }
    // A condemned pack goes when every referenced chunk in it has another home that stays.
    const deletable = new Set<string>();
    for (const packId of plan.packs) {
      const p = state.packsIndexed.get(packId);
      const needed = (p?.blobs ?? []).filter((b) => state.referenced.has(b.id));
      const covered = needed.every((b) => (state.blobPacks.get(b.id) ?? []).some((h) => h !== packId && !deletable.has(h) && state.present.has(h)));
      if (covered) deletable.add(packId);
      else report.keptPacks++;
    }
    const affectedIndex = [...state.indexFiles].filter(([, f]) => f.packs.some((p) => deletable.has(p.id)));
    const survivors = new Map<string, IndexedPack>();
    for (const [, f] of affectedIndex) for (const p of f.packs) if (!deletable.has(p.id)) survivors.set(p.id, p);
    const bytes = [...deletable].reduce((a, id) => a + (state.present.get(id)?.sizeBytes ?? 0), 0);
    report.sweptPlans++;
    report.deletedPacks += [...deletable].filter((id) => state.present.has(id)).length;
    report.deletedBytes += bytes;
    report.rewrittenIndexFiles += affectedIndex.length;
    if (opts.dryRun) continue;
    if (survivors.size > 0) {
      const indexId = randomObjectId<string>();
      const file: IndexFile = { version: 1, createdAt: ctx.clock.now().toISOString(), packs: [...survivors.values()] };
      await ctx.backend.put(objectKey.index(indexId), await sealJson(ctx.mk.dataKey, associatedData.index(indexId), file), { ifAbsent: true });
    }
    for (const [id] of affectedIndex) await ctx.backend.delete(objectKey.index(id));
    for (const id of deletable) await ctx.backend.delete(objectKey.pack(id));
    await ctx.backend.delete(objectKey.plan(planId));
    state = await readState(ctx);
  }

  // Pass 1: condemn unreferenced packs older than the grace period.
  const condemned: string[] = [];
  for (const [packId, st] of state.present) {
    if (stillCondemned.has(packId)) continue;
    if (now() - st.modifiedAt.getTime() < opts.graceMs) continue;
    const p = state.packsIndexed.get(packId);
    if (p && p.blobs.some((b) => state.referenced.has(b.id))) continue;
    condemned.push(packId);
    report.condemnedBytes += st.sizeBytes;
  }
  // Index entries whose pack is gone and that nobody needs (a writer lost a race with a sweep): the
  // sweep of this plan rewrites their index files.
  for (const [packId, p] of state.packsIndexed) {
    if (state.present.has(packId) || stillCondemned.has(packId)) continue;
    if (p.blobs.some((b) => state.referenced.has(b.id))) continue;
    condemned.push(packId);
  }
  report.condemnedPacks = condemned.length;
  if (condemned.length > 0 && !opts.dryRun) {
    const planId = randomObjectId<PlanId>();
    const plan: PrunePlan = { version: 1, createdAt: ctx.clock.now().toISOString(), graceMs: opts.graceMs, packs: condemned };
    await ctx.backend.put(objectKey.plan(planId), await sealJson(ctx.mk.dataKey, associatedData.prunePlan(planId), plan), { ifAbsent: true });
    report.planId = planId;
  }
  if (!opts.dryRun) await ctx.refreshIndex();
  return report;
}
