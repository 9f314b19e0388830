/** Adapters from the catalog's queries to the API's ports: tokens, the audit log, policies, backup instances,
 *  recovery points and job reads. Turns rows into the API's views (ISO times, names resolved to ids).
 *  Holds no SQL and no policy: validation lives in the catalog, work in operations and jobs. */
import type { Catalog, JobRow, RecoveryPointRow } from '../catalog/index.ts';
import { UserErrorConflict, UserErrorInvalidInput } from '../lib/index.ts';
import { validateCredentialReference, validateDatasource, validateName } from '../catalog/index.ts';
import type { AuditLog, AuditRecord, Instance, InstanceCreate, ValidationReport, InstanceService, Job, JobService, Policy, PolicyService, PointService, RecoveryPoint, TokenStore } from '../api/index.ts';
import type { BackupInstanceRow, JobState, JobType, PolicyRow } from '../catalog/index.ts';

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export function tokenStoreOf(catalog: Catalog): TokenStore {
  const t = catalog.apiTokens;
  return {
    async create(input) {
      const { token, row } = await t.create(input);
      return { token, info: row };
    },
    authenticate: (token) => t.authenticate(token),
    list: () => t.list(),
    revoke: (idOrName) => t.revoke(idOrName),
  };
}

export function auditLogOf(catalog: Catalog): AuditLog {
  return {
    async append(e) {
      const [type, ...rest] = (e.target ?? '').split(':');
      await catalog.auditLog.append({
        actor: e.actor,
        action: e.action,
        resourceType: e.target ? (type ?? 'unknown') : (e.action.split('/')[2] ?? 'api'),
        resourceId: e.target ? rest.join(':') || null : null,
        outcome: e.status < 400 ? 'succeeded' : e.status === 401 || e.status === 403 ? 'denied' : 'failed',
        details: { status: e.status, result: e.result },
      });
    },
    async list(opts) {
      const rows = await catalog.auditLog.list({ limit: opts.limit, ...(opts.before ? { beforeId: Number(opts.before.id) } : {}) });
      return rows.map(
        (r): AuditRecord => ({
          id: String(r.id),
          at: r.at,
          actor: r.actor,
          action: r.action,
          target: r.resourceId ? `${r.resourceType}:${r.resourceId}` : null,
          result: typeof r.details.result === 'string' ? r.details.result : r.outcome,
          status: typeof r.details.status === 'number' ? r.details.status : 0,
        }),
      );
    },
  };
}

export function policyView(p: PolicyRow): Policy {
  return { id: p.id, vaultId: p.vaultId, name: p.name, schedules: p.schedules, retentionRules: p.retentionRules, createdAt: p.createdAt.toISOString(), updatedAt: p.updatedAt.toISOString() };
}

export function instanceView(i: BackupInstanceRow): Instance {
  return {
    id: i.id,
    name: i.name,
    vaultId: i.vaultId,
    policyId: i.policyId,
    datasource: { ...i.datasource },
    credentialReference: i.credentialReference,
    state: i.state,
    stopMode: i.stopMode,
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
  };
}

export function jobView(j: JobRow): Job {
  return {
    id: j.id,
    type: j.type,
    state: j.state,
    vaultId: j.vaultId,
    instanceId: j.instanceId,
    progress: j.progress ?? {},
    figures: j.figures ?? {},
    error: j.error ? { code: j.error.code, message: j.error.message, hint: j.error.hint ?? null } : null,
    attempts: j.attempts,
    requestedBy: j.requestedBy,
    createdAt: j.createdAt.toISOString(),
    startedAt: iso(j.startedAt),
    finishedAt: iso(j.finishedAt),
  };
}

export function pointView(p: RecoveryPointRow): RecoveryPoint {
  return {
    id: p.id,
    instanceId: p.instanceId ?? '',
    vaultId: p.vaultId,
    manifestId: p.manifestId,
    tags: p.tags,
    createdAt: p.createdAt.toISOString(),
    expiresAt: iso(p.expiresAt),
    sizeBytes: p.sizeBytes,
    storedBytes: p.storedBytes,
    state: p.state,
    softDeletedAt: iso(p.softDeletedAt),
    entries: p.entries.map((e) => ({ name: e.name, sizeBytes: e.sizeBytes, sha256: e.sha256 })),
  };
}

export function policyServiceOf(catalog: Catalog): PolicyService {
  const resolve = async (ref: string) => {
    const byId = await catalog.policies.get(ref).catch(() => undefined);
    if (byId) return byId;
    const matches = (await catalog.policies.list()).filter((p) => p.name === ref);
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new UserErrorInvalidInput(`policy name "${ref}" exists in several vaults`, { hint: 'Use the policy id (`pgvault policy list` shows it).', details: { field: 'policy' } });
    }
    return catalog.policies.get(ref); // throws the catalog's UserErrorNotFound
  };
  return {
    async create(input) {
      const vault = await catalog.vaults.get(input.vault);
      return policyView(await catalog.policies.create({ vaultId: vault.id, name: input.name, schedules: input.schedules, retentionRules: input.retentionRules }));
    },
    async list(filter) {
      const vaultId = filter.vault ? (await catalog.vaults.get(filter.vault)).id : undefined;
      return (await catalog.policies.list(vaultId ? { vaultId } : {})).map(policyView);
    },
    get: async (ref) => policyView(await resolve(ref)),
  };
}

/** Instances. `preflight` runs after every cheap check (names, URLs, references, policy) and before the
 *  catalog insert, so a refused pre-flight leaves nothing behind. */
export type DatasourceCheck = (datasource: InstanceCreate['datasource'], credentialReference: string) => Promise<ValidationReport>;

export function instanceServiceOf(catalog: Catalog, check: DatasourceCheck, opts: { checkOnCreate: boolean } = { checkOnCreate: true }): InstanceService {
  return {
    async create(input) {
      const vault = await catalog.vaults.get(input.vault);
      const policy = (await catalog.policies.get(input.policy).catch(() => undefined)) ?? (await catalog.policies.findByName(vault.id, input.policy));
      if (!policy || policy.vaultId !== vault.id) {
        throw new UserErrorInvalidInput(`policy "${input.policy}" does not exist in vault "${vault.name}"`, { hint: 'Create it first with `pgvault policy create`, or name a policy of this vault.', details: { field: 'policy' } });
      }
      validateName('name', input.name);
      validateDatasource(input.datasource);
      validateCredentialReference('credentialReference', input.credentialReference);
      if (await catalog.backupInstances.find(input.name)) {
        throw new UserErrorConflict(`a backup instance named "${input.name}" already exists`, { hint: 'Choose another name; `pgvault instance list` shows the existing ones.', details: { field: 'name' } });
      }
      if (opts.checkOnCreate) await check(input.datasource, input.credentialReference);
      return instanceView(await catalog.backupInstances.create({ name: input.name, policyId: policy.id, datasource: input.datasource, credentialReference: input.credentialReference }));
    },
    async list(filter) {
      const vaultId = filter.vault ? (await catalog.vaults.get(filter.vault)).id : undefined;
      return (await catalog.backupInstances.list(vaultId ? { vaultId } : {})).map(instanceView);
    },
    get: async (ref) => instanceView(await catalog.backupInstances.get(ref)),
    async validate(ref) {
      const i = await catalog.backupInstances.get(ref);
      return check(i.datasource, i.credentialReference);
    },
    async setState(ref, state, stopMode) {
      const row = await catalog.backupInstances.get(ref);
      if (state === 'stopped' && stopMode === 'delete') {
        // Stop and delete data: every available point is soft-deleted with the state change, in one transaction
        // (a locked vault refuses the deletion before expiry and then nothing changes); purge after the vault's
        // soft-delete days and prune remove the data, undelete brings a point back until then.
        return instanceView(await catalog.transaction(async (q) => {
          for (const p of await q.recoveryPoints.list({ instanceId: row.id, state: 'available' })) await q.recoveryPoints.softDelete(p.id);
          return q.backupInstances.setState(row.id, state, stopMode);
        }));
      }
      return instanceView(await catalog.backupInstances.setState(row.id, state, stopMode));
    },
  };
}

export function pointServiceOf(catalog: Catalog): PointService {
  return {
    async list(filter) {
      const vaultId = filter.vault ? (await catalog.vaults.get(filter.vault)).id : undefined;
      const instanceId = filter.instance ? (await catalog.backupInstances.get(filter.instance)).id : undefined;
      return (await catalog.recoveryPoints.list({ ...(vaultId ? { vaultId } : {}), ...(instanceId ? { instanceId } : {}) })).map(pointView);
    },
    get: async (id) => pointView(await catalog.recoveryPoints.get(id)),
    delete: async (id) => pointView(await catalog.recoveryPoints.softDelete(id)),
    undelete: async (id) => pointView(await catalog.recoveryPoints.undelete(id)),
  };
}

/** Job reads; the enqueue side is added by buildApp once the queue is up. */
export function jobReadsOf(catalog: Catalog): Pick<JobService, 'list' | 'get' | 'log'> {
  return {
    async list(filter) {
      const vaultId = filter.vault ? (await catalog.vaults.get(filter.vault)).id : undefined;
      const instanceId = filter.instance ? (await catalog.backupInstances.get(filter.instance)).id : undefined;
      const since = filter.since ? new Date(filter.since) : undefined;
      let before = filter.until ? new Date(new Date(filter.until).getTime() + 1) : undefined;
      if (filter.before) before = new Date(filter.before.createdAt);
      const out: Job[] = [];
      // The catalog pages by created_at only; ties at the cursor's millisecond are resolved by id here.
      const rows = await catalog.jobs.list({
        ...(vaultId ? { vaultId } : {}),
        ...(instanceId ? { instanceId } : {}),
        ...(filter.type ? { type: filter.type as JobType } : {}),
        ...(filter.state ? { state: filter.state as JobState } : {}),
        ...(before ? { before: new Date(before.getTime() + (filter.before ? 1 : 0)) } : {}),
        limit: filter.limit + 50,
      });
      for (const r of rows) {
        if (since && r.createdAt < since) continue;
        const v = jobView(r);
        if (filter.before && (v.createdAt > filter.before.createdAt || (v.createdAt === filter.before.createdAt && v.id >= filter.before.id))) continue;
        out.push(v);
        if (out.length >= filter.limit) break;
      }
      return out;
    },
    get: async (id) => jobView(await catalog.jobs.get(id)),
    async log(id) {
      await catalog.jobs.get(id);
      return (await catalog.jobs.logs(id)).map((l) => ({ at: l.at.toISOString(), level: l.level, message: l.message }));
    },
  };
}
