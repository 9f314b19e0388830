/** check and check --read-data (vault-format.md §12): verifies the structure, and optionally reads and
 *  authenticates every blob, reporting each problem with the manifests it affects.
 *  It never writes or deletes anything: damage is reported, never "repaired". */
import { PgvaultError } from '../lib/index.ts';
import { StorageErrorNotFound } from '../storage/contract/index.ts';
import type { ManifestId, PlanId } from './ids.ts';
import type { IndexFile } from './index/vault-index.ts';
import type { Manifest } from './manifest/manifest.ts';
import { idOfKey, objectKey, prefixes } from './objects.ts';
import { decodePackHeader, type PackBlob } from './pack/pack-format.ts';
import { readAll, type VaultContext } from './vault-context.ts';

export type CheckProblemKind =
  | 'unreadable-manifest'
  | 'unreadable-index'
  | 'unreadable-plan'
  | 'missing-chunks'
  | 'missing-pack'
  | 'truncated-pack'
  | 'damaged-pack-header'
  | 'damaged-blob'
  | 'index-mismatch';

export interface CheckProblem {
  kind: CheckProblemKind;
  /** The storage object concerned ("data/ab/ab…", "index/…", "manifests/…"). */
  object: string;
  message: string;
  /** Manifests (recovery points) that cannot be loaded in full because of this problem. */
  manifests: ManifestId[];
}

export interface CheckReport {
  ok: boolean;
  readData: boolean;
  problems: CheckProblem[];
  manifests: number;
  indexFiles: number;
  packs: number;
  blobs: number;
  /** Packs in no index: left by an interrupted writer, collected by prune. Not a problem. */
  unindexedPacks: number;
  bytesRead: number;
}

export async function checkVault(ctx: VaultContext, opts: { readData: boolean }): Promise<CheckReport> {
  const problems: CheckProblem[] = [];
  const describe = (err: unknown): string => (err instanceof PgvaultError ? `${err.code}: ${err.message}` : String(err));

  // Manifests and which blobs they refer to.
  const manifestIds = (await ctx.listIds(prefixes.manifests)) as ManifestId[];
  const manifests: Manifest[] = [];
  for (const id of manifestIds) {
    try {
      manifests.push(await ctx.readManifest(id));
    } catch (err) {
      problems.push({ kind: 'unreadable-manifest', object: objectKey.manifest(id), message: describe(err), manifests: [id] });
    }
  }
  const usersOf = new Map<string, Set<ManifestId>>();
  for (const m of manifests) {
    for (const e of m.entries) {
      for (const c of e.chunks) {
        let s = usersOf.get(c.id);
        if (!s) usersOf.set(c.id, (s = new Set()));
        s.add(m.id);
      }
    }
  }
  const affected = (blobIds: Iterable<string>): ManifestId[] => {
    const out = new Set<ManifestId>();
    for (const b of blobIds) for (const m of usersOf.get(b) ?? []) out.add(m);
    return [...out].sort();
  };

  // Index files (read fresh, not the cache: check reports what storage holds now).
  const indexIds = await ctx.listIds(prefixes.index);
  const packsIndexed = new Map<string, { sizeBytes: number; blobs: PackBlob[] }>();
  const blobHome = new Map<string, string[]>();
  for (const id of indexIds) {
    let file: IndexFile;
    try {
      file = await ctx.readIndexFile(id);
    } catch (err) {
      problems.push({ kind: 'unreadable-index', object: objectKey.index(id), message: describe(err), manifests: [] });
      continue;
    }
    for (const p of file.packs) {
      if (!packsIndexed.has(p.id)) packsIndexed.set(p.id, { sizeBytes: p.sizeBytes, blobs: p.blobs });
      for (const b of p.blobs) {
        const homes = blobHome.get(b.id) ?? [];
        if (!homes.includes(p.id)) homes.push(p.id);
        blobHome.set(b.id, homes);
      }
    }
  }
  for (const planId of await ctx.listIds(prefixes.plans)) {
    try {
      await ctx.readPlan(planId as PlanId);
    } catch (err) {
      problems.push({ kind: 'unreadable-plan', object: objectKey.plan(planId), message: describe(err), manifests: [] });
    }
  }

  // Every referenced blob is indexed.
  const unindexed = [...usersOf.keys()].filter((b) => !blobHome.has(b));
  if (unindexed.length > 0) {
    problems.push({
      kind: 'missing-chunks',
      object: 'index/',
      message: `${unindexed.length} chunk(s) referenced by manifests are in no index file (first: "${unindexed[0]}")`,
      manifests: affected(unindexed),
    });
  }

  // Every indexed pack exists with the size the index recorded.
  const present = new Set((await ctx.list(prefixes.packs)).map(idOfKey));
  const badPacks = new Set<string>();
  for (const [packId, p] of packsIndexed) {
    const key = objectKey.pack(packId);
    const blobIds = p.blobs.map((b) => b.id).filter((b) => (blobHome.get(b) ?? []).every((h) => h === packId || badPacks.has(h)));
    if (!present.has(packId)) {
      badPacks.add(packId);
      problems.push({ kind: 'missing-pack', object: key, message: `pack "${packId}" is indexed but missing`, manifests: affected(blobIds) });
      continue;
    }
    let size: number;
    try {
      size = (await ctx.backend.stat(key)).sizeBytes;
    } catch (err) {
      if (!(err instanceof StorageErrorNotFound)) throw err;
      badPacks.add(packId);
      problems.push({ kind: 'missing-pack', object: key, message: `pack "${packId}" is indexed but missing`, manifests: affected(blobIds) });
      continue;
    }
    if (size !== p.sizeBytes) {
      badPacks.add(packId);
      problems.push({
        kind: 'truncated-pack',
        object: key,
        message: `pack "${packId}" holds ${size} bytes, the index recorded ${p.sizeBytes}`,
        manifests: affected(p.blobs.filter((b) => size < b.offset + b.length).map((b) => b.id)),
      });
    }
  }

  let bytesRead = 0;
  let blobs = 0;
  if (opts.readData) {
    for (const packId of present) {
      const key = objectKey.pack(packId);
      let bytes: Buffer;
      try {
        bytes = await readAll(await ctx.backend.get(key));
      } catch (err) {
        if (err instanceof StorageErrorNotFound) continue; // deleted since listing (a prune): not damage
        throw err;
      }
      bytesRead += bytes.length;
      const indexed = packsIndexed.get(packId);
      let header: PackBlob[] | undefined;
      try {
        if (bytes.length < 4) throw new Error('shorter than its trailer');
        const hlen = bytes.readUInt32LE(bytes.length - 4);
        if (hlen + 4 > bytes.length) throw new Error('header length beyond the start of the pack');
        header = decodePackHeader(ctx.mk.dataKey, packId, bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4));
      } catch (err) {
        if (indexed) {
          problems.push({ kind: 'damaged-pack-header', object: key, message: `pack "${packId}" header: ${describe(err)}`, manifests: [] });
        }
      }
      // Authenticate every blob the header or the index names.
      const toVerify = new Map<string, PackBlob>();
      for (const b of header ?? []) toVerify.set(b.id, b);
      for (const b of indexed?.blobs ?? []) {
        const h = toVerify.get(b.id);
        if (header && (!h || h.offset !== b.offset || h.length !== b.length || h.rawLength !== b.rawLength)) {
          problems.push({ kind: 'index-mismatch', object: key, message: `pack "${packId}": blob "${b.id}" differs between index and pack header`, manifests: affected([b.id]) });
        }
        toVerify.set(b.id, b);
      }
      for (const b of toVerify.values()) {
        blobs++;
        try {
          if (b.offset + b.length > bytes.length) throw new Error('beyond the end of the pack');
          ctx.openBlob(b.id, bytes.subarray(b.offset, b.offset + b.length), b.rawLength);
        } catch (err) {
          if (!indexed && !usersOf.has(b.id)) continue; // garbage of an interrupted writer: nobody needs it
          problems.push({ kind: 'damaged-blob', object: key, message: `blob "${b.id}" in pack "${packId}": ${describe(err)}`, manifests: affected([b.id]) });
        }
      }
      // A damaged header without a damaged blob still affects nobody's data; attach users for the report.
      for (const pr of problems) {
        if (pr.kind === 'damaged-pack-header' && pr.object === key && indexed) pr.manifests = affected(indexed.blobs.map((b) => b.id));
      }
    }
  } else {
    blobs = blobHome.size;
  }

  return {
    ok: problems.length === 0,
    readData: opts.readData,
    problems,
    manifests: manifestIds.length,
    indexFiles: indexIds.length,
    packs: present.size,
    blobs,
    unindexedPacks: [...present].filter((p) => !packsIndexed.has(p)).length,
    bytesRead,
  };
}
