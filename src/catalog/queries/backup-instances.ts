/** Queries on backup instances: the protection of one datasource (a database, or a whole server) under one
 *  policy, with a credential reference (never the credential) and a state. The server URL is stored without
 *  password; the vault is the policy's. */
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { isId, newId } from '../new-id.ts';
import {
  validateCredentialReference, validateEnum, validateName, validatePgIdentifier, validateServerUrl,
} from '../validation.ts';
import { json, notFound, toDate, type QueryContext } from './query-context.ts';

export const datasourceKinds = ['database', 'server'] as const;
export type DatasourceKind = (typeof datasourceKinds)[number];
export const instanceStates = ['protecting', 'stopped', 'suspended'] as const;
export type InstanceState = (typeof instanceStates)[number];
export const stopModes = ['retain', 'delete'] as const;
export type StopMode = (typeof stopModes)[number];

export interface Datasource {
  kind: DatasourceKind;
  /** postgresql://user@host:port[/db] — never with a password. */
  serverUrl: string;
  /** The database to protect; null for a whole-server datasource. */
  databaseName: string | null;
  /** Whole-server only: databases and database owners to leave out. */
  excludedDatabases: string[];
  excludedOwners: string[];
}

export interface BackupInstanceRow {
  id: string;
  name: string;
  vaultId: string;
  policyId: string;
  datasource: Datasource;
  credentialReference: string;
  state: InstanceState;
  /** Set exactly when state is stopped. */
  stopMode: StopMode | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewBackupInstance {
  name: string;
  policyId: string;
  datasource: { kind: DatasourceKind; serverUrl: string; databaseName?: string | null; excludedDatabases?: string[]; excludedOwners?: string[] };
  credentialReference: string;
}

export interface BackupInstancePatch {
  policyId?: string;
  credentialReference?: string;
}

/** get() throws UserErrorNotFound and accepts an id or a name. */
export interface BackupInstanceQueries {
  create(input: NewBackupInstance): Promise<BackupInstanceRow>;
  get(idOrName: string): Promise<BackupInstanceRow>;
  find(idOrName: string): Promise<BackupInstanceRow | undefined>;
  list(filter?: { vaultId?: string; policyId?: string; state?: InstanceState }): Promise<BackupInstanceRow[]>;
  /** A new policy must belong to the instance's vault (UserErrorInvalidInput otherwise). */
  update(id: string, patch: BackupInstancePatch): Promise<BackupInstanceRow>;
  /** protecting/suspended need no stop mode; stopped needs one. */
  setState(id: string, state: InstanceState, stopMode?: StopMode): Promise<BackupInstanceRow>;
  delete(id: string): Promise<void>;
}

const columns = 'id, name, vault_id, policy_id, datasource_kind, server_url, database_name, excluded_databases, excluded_owners, credential_reference, state, stop_mode, created_at, updated_at';

function toRow(r: Record<string, unknown>): BackupInstanceRow {
  return {
    id: r.id as string,
    name: r.name as string,
    vaultId: r.vault_id as string,
    policyId: r.policy_id as string,
    datasource: {
      kind: r.datasource_kind as DatasourceKind,
      serverUrl: r.server_url as string,
      databaseName: (r.database_name as string | null) ?? null,
      excludedDatabases: r.excluded_databases as string[],
      excludedOwners: r.excluded_owners as string[],
    },
    credentialReference: r.credential_reference as string,
    state: r.state as InstanceState,
    stopMode: (r.stop_mode as StopMode | null) ?? null,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

function validateNameList(field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 1000) throw new UserErrorInvalidInput(`${field}: must be a list of at most 1000 names`, { hint: 'For example ["template_db", "scratch"].', details: { field } });
  return value.map((v, i) => validatePgIdentifier(`${field}[${i}]`, v));
}

export function validateDatasource(input: NewBackupInstance['datasource']): Datasource {
  const d = (input ?? {}) as Partial<NewBackupInstance['datasource']>;
  const kind = validateEnum('datasource.kind', d.kind, datasourceKinds);
  const serverUrl = validateServerUrl('datasource.serverUrl', d.serverUrl);
  if (kind === 'database') {
    if (d.excludedDatabases?.length || d.excludedOwners?.length) {
      throw new UserErrorInvalidInput('datasource: exclusions apply only to a whole-server datasource', { hint: 'Remove excludedDatabases/excludedOwners, or use kind "server".', details: { field: 'datasource' } });
    }
    return { kind, serverUrl, databaseName: validatePgIdentifier('datasource.databaseName', d.databaseName), excludedDatabases: [], excludedOwners: [] };
  }
  if (d.databaseName !== undefined && d.databaseName !== null) {
    throw new UserErrorInvalidInput('datasource.databaseName: a whole-server datasource names no database', { hint: 'Use kind "database" to protect one database.', details: { field: 'datasource.databaseName' } });
  }
  return {
    kind, serverUrl, databaseName: null,
    excludedDatabases: validateNameList('datasource.excludedDatabases', d.excludedDatabases),
    excludedOwners: validateNameList('datasource.excludedOwners', d.excludedOwners),
  };
}

export function backupInstanceQueries(ctx: QueryContext): BackupInstanceQueries {
  const find = async (idOrName: string): Promise<BackupInstanceRow | undefined> => {
    const col = isId('backupInstance', idOrName) ? 'id' : 'name';
    const rows = await ctx.exec.query(`SELECT ${columns} FROM backup_instances WHERE ${col} = $1`, [idOrName]);
    return rows[0] ? toRow(rows[0]) : undefined;
  };
  const get = async (idOrName: string): Promise<BackupInstanceRow> => {
    const row = await find(idOrName);
    if (!row) throw notFound('backup instance', idOrName);
    return row;
  };
  const policyVault = async (policyId: unknown): Promise<string> => {
    if (typeof policyId !== 'string' || !isId('policy', policyId)) {
      throw new UserErrorInvalidInput('policyId: not a policy id', { hint: 'Give the id of an existing policy (pol_…).', details: { field: 'policyId' } });
    }
    const rows = await ctx.exec.query<{ vault_id: string }>('SELECT vault_id FROM policies WHERE id = $1', [policyId]);
    if (!rows[0]) throw notFound('policy', policyId);
    return rows[0].vault_id;
  };
  return {
    async create(input) {
      const name = validateName('name', input.name);
      const datasource = validateDatasource(input.datasource);
      const credentialReference = validateCredentialReference('credentialReference', input.credentialReference);
      const vaultId = await policyVault(input.policyId);
      const now = ctx.clock.now();
      const rows = await ctx.exec.query(
        `INSERT INTO backup_instances (${columns})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, 'protecting', NULL, $11, $11) RETURNING ${columns}`,
        [newId('backupInstance', ctx.clock), name, vaultId, input.policyId, datasource.kind, datasource.serverUrl,
          datasource.databaseName, json(datasource.excludedDatabases), json(datasource.excludedOwners), credentialReference, now]);
      return toRow(rows[0]!);
    },
    get,
    find,
    async list(filter = {}) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.vaultId !== undefined) { params.push(filter.vaultId); where.push(`vault_id = $${params.length}`); }
      if (filter.policyId !== undefined) { params.push(filter.policyId); where.push(`policy_id = $${params.length}`); }
      if (filter.state !== undefined) { params.push(validateEnum('state', filter.state, instanceStates)); where.push(`state = $${params.length}`); }
      const rows = await ctx.exec.query(
        `SELECT ${columns} FROM backup_instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name`, params);
      return rows.map(toRow);
    },
    async update(id, patch) {
      const cur = await get(id);
      let policyId = cur.policyId;
      if (patch.policyId !== undefined) {
        const vaultId = await policyVault(patch.policyId);
        if (vaultId !== cur.vaultId) {
          throw new UserErrorInvalidInput('policyId: the policy belongs to another vault', { hint: 'Choose a policy of the vault that holds this instance\'s recovery points.', details: { field: 'policyId' } });
        }
        policyId = patch.policyId;
      }
      const credentialReference = patch.credentialReference === undefined ? cur.credentialReference : validateCredentialReference('credentialReference', patch.credentialReference);
      const rows = await ctx.exec.query(
        `UPDATE backup_instances SET policy_id = $2, credential_reference = $3, updated_at = $4 WHERE id = $1 RETURNING ${columns}`,
        [cur.id, policyId, credentialReference, ctx.clock.now()]);
      return toRow(rows[0]!);
    },
    async setState(id, state, stopMode) {
      validateEnum('state', state, instanceStates);
      if (state === 'stopped') validateEnum('stopMode', stopMode, stopModes);
      else if (stopMode !== undefined) {
        throw new UserErrorInvalidInput('stopMode: only a stopped instance has a stop mode', { hint: 'Give a stop mode (retain or delete) only when stopping.', details: { field: 'stopMode' } });
      }
      const rows = await ctx.exec.query(
        `UPDATE backup_instances SET state = $2, stop_mode = $3, updated_at = $4 WHERE id = $1 RETURNING ${columns}`,
        [id, state, state === 'stopped' ? stopMode! : null, ctx.clock.now()]);
      if (!rows[0]) throw notFound('backup instance', id);
      return toRow(rows[0]);
    },
    async delete(id) {
      const rows = await ctx.exec.query('DELETE FROM backup_instances WHERE id = $1 RETURNING id', [id]);
      if (!rows[0]) throw notFound('backup instance', id);
    },
  };
}
