/** The API's JobService: job reads from the catalog, and on-demand work (backup now, restore, restore-files)
 *  submitted through the jobs module, row and queue entry in one transaction. Checks what can be checked before
 *  a job exists (instance state, point state, restore target free, destination valid), so bad requests are
 *  4xx answers that change nothing rather than failed jobs. */
import { isAbsolute, normalize } from 'node:path';
import type { Catalog } from '../catalog/index.ts';
import { enqueueJob, type JobQueue } from '../jobs/index.ts';
import { UserErrorConflict, UserErrorInvalidInput, type Clock } from '../lib/index.ts';
import { databaseOfEntry, entryNames, splitTableName, UserErrorTargetDatabaseExists } from '../operations/index.ts';
import { withConnection } from '../postgres/index.ts';
import type { SecretReader } from '../secrets/index.ts';
import type { Actor, JobService } from '../api/index.ts';
import { jobReadsOf, jobView } from './catalog-ports.ts';
import { checkStorageUrl } from './open-storage.ts';
import { connectionFor } from './pg-target.ts';

export interface JobServiceDeps {
  catalog: Catalog;
  queue: JobQueue;
  secrets: SecretReader;
  clock: Clock;
}

const requester = (a: Actor) => `token:${a.tokenId} (${a.name})`;

export function jobServiceOf(deps: JobServiceDeps): JobService {
  const { catalog, queue, clock } = deps;
  const reads = jobReadsOf(catalog);

  /** The databases a point holds, from its archive entries. */
  const databasesOf = (point: { entries: { name: string }[] }): string[] =>
    point.entries.map((e) => databaseOfEntry(e.name)).filter((d): d is string => d !== undefined);

  const availablePoint = async (id: string) => {
    const point = await catalog.recoveryPoints.get(id);
    if (point.state !== 'available') {
      throw new UserErrorConflict(`recovery point "${id}" is ${point.state.replace('_', '-')}`, { hint: point.state === 'soft_deleted' ? 'Undelete it first.' : 'Choose an available recovery point (`pgvault point list`).' });
    }
    return point;
  };

  return {
    ...reads,
    async enqueueVaultJob(vaultRef, type, params, actor) {
      const vault = await catalog.vaults.get(vaultRef);
      const job = await enqueueJob(catalog, queue, { type, vaultId: vault.id, params, requestedBy: requester(actor), exclusiveKey: `vault:${vault.id}` }, clock);
      return jobView(job);
    },
    async enqueueBackup(ref, request, actor) {
      const instance = await catalog.backupInstances.get(ref);
      if (instance.state === 'stopped') {
        throw new UserErrorConflict(`backup instance "${instance.name}" is stopped`, { hint: 'Resume protection first (`pgvault instance resume`).' });
      }
      if (request.tag) {
        const policy = await catalog.policies.get(instance.policyId);
        if (!policy.retentionRules.some((r) => r.tag === request.tag)) {
          throw new UserErrorInvalidInput(`policy "${policy.name}" has no retention rule for tag "${request.tag}"`, {
            hint: `Use one of ${policy.retentionRules.map((r) => r.tag).join(', ')}.`,
            details: { field: 'tag' },
          });
        }
      }
      const job = await enqueueJob(catalog, queue, {
        type: 'backup',
        instanceId: instance.id,
        vaultId: instance.vaultId,
        params: { trigger: 'on-demand', ...(request.tag ? { tag: request.tag } : {}) },
        requestedBy: requester(actor),
      }, clock);
      return jobView(job);
    },
    async enqueueRestore(pointId, request, actor) {
      const point = await availablePoint(pointId);
      // A table name that cannot be read fails now (400), not in a job; names the point lacks fail in the job, which
      // reads the point's table of contents.
      for (const t of request.tables ?? []) splitTableName(t);
      // Which database of the point: named, or the only one. A whole-server point holds several; guessing one would
      // restore the wrong data under the requested name.
      const databases = databasesOf(point);
      const listed = databases.map((d) => `"${d}"`).join(', ');
      if (request.entry === undefined && databases.length > 1) {
        throw new UserErrorInvalidInput(`recovery point "${point.id}" holds ${databases.length} databases; name the one to restore`, {
          hint: `Give entry (pgvault restore --entry) as one of ${listed}.`,
          details: { field: 'entry' },
        });
      }
      if (request.entry !== undefined && !databases.includes(request.entry)) {
        throw new UserErrorInvalidInput(`recovery point "${point.id}" holds no database "${request.entry}"`, { hint: `It holds ${listed}.`, details: { field: 'entry' } });
      }
      if (request.privilegedRoles === true && request.createRoles !== true) {
        throw new UserErrorInvalidInput('privilegedRoles only applies with createRoles', { hint: 'Give createRoles too, or leave privilegedRoles out.', details: { field: 'privilegedRoles' } });
      }
      if (request.createRoles === true && !point.entries.some((e) => e.name === entryNames.globals)) {
        throw new UserErrorInvalidInput(`recovery point "${point.id}" is not a whole-server point: it has no roles to create`, {
          hint: 'Leave createRoles out (objects are then owned by the restoring role), or restore from a whole-server point.',
          details: { field: 'createRoles' },
        });
      }
      if (request.spool === true && (request.jobs ?? 1) < 2) {
        throw new UserErrorInvalidInput('spool only applies to a parallel restore', { hint: 'Give jobs of 2 or more with spool, or leave spool out.', details: { field: 'spool' } });
      }
      // The target must not exist unless replacement was asked for: refuse now, before any job exists.
      const target = await connectionFor(request.targetServerUrl, request.credentialReference, deps.secrets, 'postgres');
      const exists = await withConnection(target, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [request.database])).rowCount! > 0);
      if (exists && request.replace !== true) throw new UserErrorTargetDatabaseExists(request.database);
      const job = await enqueueJob(catalog, queue, {
        type: 'restore',
        vaultId: point.vaultId,
        instanceId: point.instanceId,
        recoveryPointId: point.id,
        params: { pointId: point.id, ...request },
        requestedBy: requester(actor),
        exclusiveKey: `restore:${request.targetServerUrl}/${request.database}`,
      }, clock);
      return jobView(job);
    },
    async enqueueRestoreFiles(pointId, request, actor) {
      const point = await availablePoint(pointId);
      const d = request.destination;
      if (d.startsWith('/')) {
        if (!isAbsolute(d) || normalize(d) !== d.replace(/\/+$/, '') && normalize(d) !== d || d.split('/').includes('..') || d.includes('\0')) {
          throw new UserErrorInvalidInput(`destination "${d}" is not a normalised absolute directory path`, { hint: 'For example /srv/restores/2026-11-22.', details: { field: 'destination' } });
        }
      } else {
        checkStorageUrl(d);
      }
      const unknown = (request.databases ?? []).filter((db) => !databasesOf(point).includes(db));
      if (unknown.length > 0) {
        throw new UserErrorInvalidInput(`recovery point "${point.id}" holds no database ${unknown.map((u) => `"${u}"`).join(', ')}`, {
          hint: `It holds ${databasesOf(point).map((x) => `"${x}"`).join(', ')}.`,
          details: { field: 'databases' },
        });
      }
      const job = await enqueueJob(catalog, queue, {
        type: 'restore-files',
        vaultId: point.vaultId,
        instanceId: point.instanceId,
        recoveryPointId: point.id,
        params: { pointId: point.id, destination: d, ...(request.databases ? { databases: request.databases } : {}) },
        requestedBy: requester(actor),
        exclusiveKey: `restore-files:${point.id}:${d}`,
      }, clock);
      return jobView(job);
    },
  };
}
