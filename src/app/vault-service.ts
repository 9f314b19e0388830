/** Vaults as the API sees them: create initialises the encrypted vault at its storage URL (or opens the one
 *  already there when the key opens it: attaching) before the catalog learns of it, so the catalog never
 *  lists a vault that does not exist. Also opens vaults for jobs, with the key resolved afresh each time.
 *  Never stores or logs the passphrase; the catalog keeps only the key reference. */
import type { Catalog, VaultRow } from '../catalog/index.ts';
import { UserErrorConflict, type Clock } from '../lib/index.ts';
import { resolveCredential, type SecretReader } from '../secrets/index.ts';
import type { StorageBackend } from '../storage/index.ts';
import { UserErrorVaultNotFound, Vault, type Manifest, type ScryptParams } from '../vault/index.ts';
import type { Vault as VaultView, VaultService } from '../api/index.ts';
import { checkStorageUrl, openStorage } from './open-storage.ts';

export interface VaultAccessOptions {
  catalog: Catalog;
  secrets: SecretReader;
  clock: Clock;
  /** Test seam: wraps every backend (fault injection, counting). */
  wrapBackend?: (backend: StorageBackend) => StorageBackend;
  /** Test seam: cheaper key derivation for vaults created in tests. */
  kdf?: ScryptParams;
}

export function vaultView(v: VaultRow): VaultView {
  return {
    id: v.id,
    name: v.name,
    storageUrl: v.storageUrl,
    keyReference: v.keyReference,
    softDeleteDays: v.softDeleteDays,
    immutability: v.immutability,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  };
}

export class VaultAccess implements VaultService {
  readonly #o: VaultAccessOptions;
  constructor(opts: VaultAccessOptions) {
    this.#o = opts;
  }

  async #passphrase(keyReference: string): Promise<string> {
    const c = await resolveCredential(keyReference, { secretStore: this.#o.secrets });
    return (c.password ?? c.uri) as string;
  }

  async #backend(storageUrl: string): Promise<StorageBackend> {
    const b = await openStorage(storageUrl);
    return this.#o.wrapBackend ? this.#o.wrapBackend(b) : b;
  }

  /** Opens the vault of a catalog row; the caller closes it. */
  async open(vault: VaultRow): Promise<Vault> {
    const backend = await this.#backend(vault.storageUrl);
    return Vault.open(backend, { passphrase: await this.#passphrase(vault.keyReference), clock: this.#o.clock });
  }

  /** Attaches an existing vault: records it and lists its recovery points from its manifests (the vault is the
   *  source of truth). Imported points keep no expiry (their retention is unknown here): they stay until deleted. */
  async attach(input: Parameters<VaultService['create']>[0]): Promise<{ vault: VaultView; importedPoints: number }> {
    return this.#createOrAttach(input, 'attach');
  }

  async create(input: Parameters<VaultService['create']>[0]): Promise<VaultView> {
    return (await this.#createOrAttach(input, 'create')).vault;
  }

  async #createOrAttach(input: Parameters<VaultService['create']>[0], mode: 'create' | 'attach'): Promise<{ vault: VaultView; importedPoints: number }> {
    const { catalog } = this.#o;
    checkStorageUrl(input.storageUrl);
    if (await catalog.vaults.find(input.name)) {
      throw new UserErrorConflict(`a vault named "${input.name}" already exists`, { hint: 'Choose another name; `pgvault vault list` shows the existing ones.', details: { field: 'name' } });
    }
    if ((await catalog.vaults.list()).some((v) => v.storageUrl === input.storageUrl)) {
      throw new UserErrorConflict(`storage URL "${input.storageUrl}" already holds a vault of this catalog`, { hint: 'One vault per storage location; choose another URL.', details: { field: 'storageUrl' } });
    }
    const passphrase = await this.#passphrase(input.keyReference);
    const backend = await this.#backend(input.storageUrl);
    let vault: Vault;
    try {
      vault = await Vault.open(backend, { passphrase, clock: this.#o.clock });
    } catch (err) {
      if (!(err instanceof UserErrorVaultNotFound) || mode === 'attach') throw err;
      vault = await Vault.create(backend, { passphrase, clock: this.#o.clock, ...(this.#o.kdf ? { kdf: this.#o.kdf } : {}) });
    }
    let manifests: Manifest[];
    try {
      manifests = await Promise.all((await vault.listManifests()).map((id) => vault.readManifest(id)));
    } finally {
      await vault.close();
    }
    const row = await catalog.vaults.create({
      name: input.name,
      storageUrl: input.storageUrl,
      keyReference: input.keyReference,
      ...(input.softDeleteDays === undefined ? {} : { softDeleteDays: input.softDeleteDays }),
      ...(input.immutability === undefined ? {} : { immutability: input.immutability }),
    });
    let importedPoints = 0;
    for (const m of manifests) {
      const meta = m.meta as { kind?: string; instanceId?: unknown; jobId?: unknown };
      const instance = typeof meta.instanceId === 'string' ? await catalog.backupInstances.find(meta.instanceId) : undefined;
      await catalog.recoveryPoints.insert({
        vaultId: row.id,
        instanceId: instance && instance.vaultId === row.id ? instance.id : null,
        manifestId: m.id,
        jobId: null,
        datasourceKind: meta.kind === 'server' ? 'server' : 'database',
        tags: ['Default'],
        createdAt: new Date(m.createdAt),
        expiresAt: null,
        sizeBytes: m.entries.reduce((n, e) => n + e.sizeBytes, 0),
        storedBytes: 0,
        entries: m.entries.map((e) => ({ name: e.name, kind: e.name === 'globals.sql' ? 'globals' : e.name.endsWith('.dump') ? 'archive' : e.name.endsWith('.index.json') ? 'index' : 'other', sizeBytes: e.sizeBytes, sha256: e.sha256 })),
      });
      importedPoints++;
    }
    return { vault: vaultView(row), importedPoints };
  }

  async list(): Promise<VaultView[]> {
    return (await this.#o.catalog.vaults.list()).map(vaultView);
  }

  async get(ref: string): Promise<VaultView> {
    return vaultView(await this.#o.catalog.vaults.get(ref));
  }
}
