/** The job kinds this build runs, as handlers for the jobs module's worker: backup (database or whole server),
 *  restore (as a new database) and restore-files. Each resolves credentials afresh, opens the vault, runs the
 *  operation, and commits its result through the attempt's fenced transaction (a superseded attempt can never
 *  commit). Handlers never log a secret: job log lines go through the catalog's redaction. */
import type { RestoreFilesRequest, RestoreRequest } from '../api/index.ts';
import type { Catalog, CatalogQueries, RecoveryPointEntry, RecoveryPointRow } from '../catalog/index.ts';
import type { JobContext, JobHandler } from '../jobs/index.ts';
import { expiryFor, IntegrityError, InternalErrorUnexpected, parseRetentionRules, tagFor, UserErrorInvalidInput, type Clock, type RetentionTag } from '../lib/index.ts';
import { databaseOfEntry, runBackup, runRestore, runRestoreFiles, runServerBackup } from '../operations/index.ts';
import { discoverClients, type PgClientSet } from '../postgres/index.ts';
import type { SecretReader } from '../secrets/index.ts';
import { parseManifestId } from '../vault/index.ts';
import { openStorage } from './open-storage.ts';
import { connectionFor } from './pg-target.ts';
import type { VaultAccess } from './vault-service.ts';

/** `vault check` found problems (listed in the job log); the data needs attention, never a retry. */
export class IntegrityErrorVaultCheckFailed extends IntegrityError {}

export interface HandlerDeps {
  catalog: Catalog;
  vaults: VaultAccess;
  secrets: SecretReader;
  clock: Clock;
  /** Extra directories searched for pg_dump/pg_restore (besides PATH, /usr/lib/postgresql/*\/bin, PGVAULT_PG_BIN). */
  pgBinDirs?: string[];
}

/** Reports progress at most once a second (each report is a catalog write). */
function throttled(ctx: JobContext): (p: Record<string, unknown>) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    ctx.progress(p).catch(() => undefined); // a superseded attempt finds out at commit
  };
}

function entryKind(name: string): string {
  if (name === 'globals.sql') return 'globals';
  if (name.endsWith('.dump')) return 'archive';
  if (name.endsWith('.index.json')) return 'index';
  return 'other';
}

export function jobHandlers(deps: HandlerDeps): Record<string, JobHandler> {
  const { catalog, vaults, secrets, clock } = deps;
  let clients: Promise<PgClientSet> | undefined;
  const pgClients = () => (clients ??= discoverClients(deps.pgBinDirs ? { extraDirs: deps.pgBinDirs } : {}));

  const backup: JobHandler = async (ctx) => {
    const job = ctx.job;
    if (!job.instanceId) throw new InternalErrorUnexpected(`backup job "${job.id}" has no instance`);
    const instance = await catalog.backupInstances.get(job.instanceId);
    const vaultRow = await catalog.vaults.get(instance.vaultId);
    const policy = await catalog.policies.get(instance.policyId);
    const rules = parseRetentionRules(policy.retentionRules);
    const timeZone = policy.schedules[0]?.timeZone ?? 'UTC';
    const ds = instance.datasource;
    await ctx.log('info', `backup of ${ds.kind === 'server' ? 'the whole server' : `database "${ds.databaseName}"`} into vault "${vaultRow.name}"`);
    const cfg = await connectionFor(ds.serverUrl, instance.credentialReference, secrets, ds.kind === 'database' ? (ds.databaseName ?? undefined) : undefined);
    const vault = await vaults.open(vaultRow);
    const onProgress = throttled(ctx);
    try {
      const meta = { instanceId: instance.id, jobId: job.id };
      let manifest;
      let log: string[];
      if (ds.kind === 'database') {
        const r = await runBackup(vault, cfg, { database: ds.databaseName as string, clients: await pgClients(), signal: ctx.signal, onProgress: (p) => onProgress({ ...p }), meta });
        manifest = r.manifest;
        log = r.log;
      } else {
        const r = await runServerBackup(vault, cfg, {
          clients: await pgClients(),
          exclude: { names: ds.excludedDatabases, owners: ds.excludedOwners },
          signal: ctx.signal,
          onProgress: (p) => onProgress({ ...p }),
          meta,
        });
        manifest = r.manifest;
        log = r.log;
        for (const d of r.skipped) await ctx.log('info', `database "${d.name}" left out: ${d.why}`);
      }
      for (const line of log.slice(-20)) await ctx.log('debug', line);
      const createdAt = new Date(manifest.createdAt);
      const asked = job.params.tag as RetentionTag | undefined;
      const previous = await catalog.recoveryPoints.list({ instanceId: instance.id });
      const tag: RetentionTag = asked ?? tagFor({ createdAt }, previous, rules, timeZone);
      if (!rules.some((r) => r.tag === tag)) {
        throw new UserErrorInvalidInput(`the policy "${policy.name}" has no retention rule for tag "${tag}"`, { hint: `Use one of ${rules.map((r) => r.tag).join(', ')}.` });
      }
      const entries: RecoveryPointEntry[] = manifest.entries.map((e) => ({ name: e.name, kind: entryKind(e.name), sizeBytes: e.sizeBytes, sha256: e.sha256 }));
      const point = await ctx.commit((q: CatalogQueries) =>
        q.recoveryPoints.insert({
          vaultId: vaultRow.id,
          instanceId: instance.id,
          manifestId: manifest.id,
          jobId: job.id,
          datasourceKind: ds.kind,
          tags: [tag],
          createdAt,
          expiresAt: expiryFor(createdAt, tag, rules),
          sizeBytes: manifest.sizeBytes,
          storedBytes: manifest.storedBytes,
          entries,
        }),
      );
      const figures = {
        recoveryPointId: point.id,
        manifestId: manifest.id,
        tag,
        bytesDumped: manifest.sizeBytes,
        bytesNew: manifest.newBytes,
        bytesStored: manifest.storedBytes,
        dedupRatio: manifest.newBytes > 0 ? Number((manifest.sizeBytes / manifest.newBytes).toFixed(2)) : null,
        durationMs: clock.now().getTime() - (job.startedAt ?? job.createdAt).getTime(),
      };
      await ctx.log('info', `recovery point ${point.id} (${tag}): ${manifest.sizeBytes} bytes dumped, ${manifest.newBytes} new`);
      return figures;
    } finally {
      await vault.close();
    }
  };

  const pointAndVault = async (ctx: JobContext): Promise<{ point: RecoveryPointRow; vaultRow: Awaited<ReturnType<Catalog['vaults']['get']>> }> => {
    const pointId = (ctx.job.recoveryPointId ?? ctx.job.params.pointId) as string | undefined;
    if (!pointId) throw new InternalErrorUnexpected(`job "${ctx.job.id}" names no recovery point`);
    const point = await catalog.recoveryPoints.get(pointId);
    return { point, vaultRow: await catalog.vaults.get(point.vaultId) };
  };

  const restore: JobHandler = async (ctx) => {
    const p = ctx.job.params as RestoreRequest;
    const { point, vaultRow } = await pointAndVault(ctx);
    // The only database of the point when none is named (the API refuses a point of several without one).
    const sourceDb = p.entry ?? point.entries.map((e) => databaseOfEntry(e.name)).find((d) => d !== undefined);
    await ctx.log('info', `restore of recovery point ${point.id} (database "${sourceDb ?? '?'}") as "${p.database}"`);
    const target = await connectionFor(p.targetServerUrl, p.credentialReference, secrets);
    const vault = await vaults.open(vaultRow);
    const onProgress = throttled(ctx);
    try {
      const report = await runRestore(vault, parseManifestId(point.manifestId), sourceDb, target, {
        newDatabase: p.database,
        replace: p.replace === true,
        ...(p.jobs !== undefined ? { jobs: p.jobs } : {}),
        ...(p.spool !== undefined ? { spool: p.spool } : {}),
        ...(p.schemas !== undefined ? { schemas: p.schemas } : {}),
        ...(p.tables !== undefined ? { tables: p.tables } : {}),
        ...(p.createRoles === true ? { createRoles: true } : {}),
        ...(p.privilegedRoles === true ? { privilegedRoles: true } : {}),
        ...(p.noTablespaces === true ? { noTablespaces: true } : {}),
        clients: await pgClients(),
        signal: ctx.signal,
        onProgress: (x) => onProgress({ ...x }),
      });
      if (report.missingRoles.length > 0) await ctx.log('warn', `roles missing on the target (their grants were skipped): ${report.missingRoles.join(', ')}`);
      const g = report.globals;
      if (g) {
        await ctx.log('info', `roles created: ${g.created.join(', ') || 'none'}; already there: ${g.existing.join(', ') || 'none'}`);
        for (const w of g.withheld) await ctx.log('warn', `role "${w.role}" created without ${w.attributes.join(', ')} (privileged: given only by a superuser asking for privilegedRoles)`);
        for (const f of g.failed) await ctx.log('warn', `not applied: ${f.statement}: ${f.error}`);
      }
      return {
        database: report.database,
        sourceDatabase: report.sourceDatabase,
        mode: report.mode,
        jobs: report.jobs,
        missingRoles: report.missingRoles,
        ...(g ? { rolesCreated: g.created, rolesWithheld: g.withheld, rolesFailed: g.failed.length } : {}),
        restoredEntries: report.restoredEntries,
        bytesRead: report.bytesRead,
        durationMs: report.durationMs,
      };
    } finally {
      await vault.close();
    }
  };

  const restoreFiles: JobHandler = async (ctx) => {
    const p = ctx.job.params as RestoreFilesRequest;
    const { point, vaultRow } = await pointAndVault(ctx);
    await ctx.log('info', `restore of recovery point ${point.id} as files to ${p.destination}`);
    const target = p.destination.startsWith('/') ? p.destination : await openStorage(p.destination, { createContainer: true });
    const vault = await vaults.open(vaultRow);
    try {
      const files = await runRestoreFiles(vault, parseManifestId(point.manifestId), target, { signal: ctx.signal, ...(p.databases ? { databases: p.databases } : {}) });
      for (const f of files) await ctx.log('info', `${f.name}: ${f.sizeBytes} bytes, sha256 ${f.sha256}`);
      return { destination: p.destination, files };
    } finally {
      await vault.close();
    }
  };

  const vaultOf = async (ctx: JobContext) => {
    if (!ctx.job.vaultId) throw new InternalErrorUnexpected(`job "${ctx.job.id}" names no vault`);
    return catalog.vaults.get(ctx.job.vaultId);
  };

  /** Forgets the manifests of purged points still present in the vault (idempotent), so prune may collect them. */
  const forgetPurged = async (ctx: JobContext, vaultId: string, vault: Awaited<ReturnType<VaultAccess['open']>>): Promise<number> => {
    const present = new Set<string>(await vault.listManifests());
    let forgotten = 0;
    for (const p of await catalog.recoveryPoints.list({ vaultId, state: 'purged' })) {
      if (!present.has(p.manifestId)) continue;
      await vault.forget(parseManifestId(p.manifestId));
      await ctx.log('info', `forgot the manifest of purged recovery point ${p.id}`);
      forgotten++;
    }
    return forgotten;
  };

  const check: JobHandler = async (ctx) => {
    const vaultRow = await vaultOf(ctx);
    const readData = ctx.job.params.readData === true;
    await ctx.log('info', `check of vault "${vaultRow.name}"${readData ? ' reading every blob' : ''}`);
    const vault = await vaults.open(vaultRow);
    try {
      const report = await vault.check({ readData });
      for (const p of report.problems.slice(0, 100)) await ctx.log('error', JSON.stringify(p));
      if (!report.ok) {
        throw new IntegrityErrorVaultCheckFailed(`vault "${vaultRow.name}" failed its check with ${report.problems.length} problem(s)`, {
          details: { problems: report.problems.length, manifests: report.manifests, packs: report.packs },
        });
      }
      return { ok: true, readData, manifests: report.manifests, indexFiles: report.indexFiles, packs: report.packs, blobs: report.blobs, unindexedPacks: report.unindexedPacks, bytesRead: report.bytesRead };
    } finally {
      await vault.close();
    }
  };

  const retention: JobHandler = async (ctx) => {
    const vaultRow = await vaultOf(ctx);
    const now = clock.now();
    let expired = 0;
    let kept = 0;
    for (const p of await catalog.recoveryPoints.listExpired(now, { vaultId: vaultRow.id })) {
      if (await catalog.recoveryPoints.expire(p.id)) expired++;
      else kept++;
    }
    let purged = 0;
    for (const p of await catalog.recoveryPoints.listPurgeable(now, { vaultId: vaultRow.id })) {
      await catalog.recoveryPoints.purge(p.id);
      purged++;
    }
    await ctx.log('info', `retention of vault "${vaultRow.name}": ${expired} expired (soft-deleted), ${kept} kept as their instance's last, ${purged} purged`);
    return { expired, keptAsLast: kept, purged };
  };

  const prune: JobHandler = async (ctx) => {
    const vaultRow = await vaultOf(ctx);
    const vault = await vaults.open(vaultRow);
    try {
      const forgotten = await forgetPurged(ctx, vaultRow.id, vault);
      const report = await vault.prune();
      await ctx.log('info', `prune of vault "${vaultRow.name}": ${report.deletedPacks} packs (${report.deletedBytes} bytes) deleted`);
      return { forgottenManifests: forgotten, sweptPlans: report.sweptPlans, deletedPacks: report.deletedPacks, deletedBytes: report.deletedBytes, keptPacks: report.keptPacks, rewrittenIndexFiles: report.rewrittenIndexFiles };
    } finally {
      await vault.close();
    }
  };

  return { backup, restore, 'restore-files': restoreFiles, check, retention, prune };
}
