/** pgvault's own secret store: values sealed under the master key and kept in the catalog's secrets table
 *  (through SealedSecretRows, which the catalog implements). set/get/list/delete; list() returns names only.
 *  Each value is bound to its name (associated data), so swapping rows does not swap secrets. Never caches a
 *  value, never logs one; every value read is registered for redaction. */
import { registerSecret, UserErrorInvalidInput } from '../lib/index.ts';
import type { MasterKey } from './master-key.ts';
import { UserErrorMasterKeyMismatch } from './secrets-errors.ts';

/** The catalog's rows of sealed secrets (src/catalog's SecretRowQueries satisfies it). */
export interface SealedSecretRows {
  put(name: string, sealed: Buffer, keyId: string): Promise<void>;
  get(name: string): Promise<{ sealed: Buffer; keyId: string } | undefined>;
  list(): Promise<{ name: string; createdAt: Date; updatedAt: Date }[]>;
  delete(name: string): Promise<boolean>;
}

export const maxSecretValueBytes = 64 * 1024;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function associatedData(name: string): string {
  return `pgvault secret v1\0${name}`;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !namePattern.test(name) || name.includes('..')) {
    throw new UserErrorInvalidInput('name: a secret name is 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit', {
      hint: 'For example prod-db-password.', details: { field: 'name' },
    });
  }
  return name;
}

export class SecretStore {
  readonly #rows: SealedSecretRows;
  readonly #key: MasterKey;

  constructor(rows: SealedSecretRows, masterKey: MasterKey) {
    this.#rows = rows;
    this.#key = masterKey;
  }

  /** Creates or replaces a secret. The value is a password or a full connection URI. */
  async set(name: string, value: string): Promise<void> {
    checkName(name);
    if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > maxSecretValueBytes || value.includes('\0')) {
      throw new UserErrorInvalidInput(`value: a secret value is 1 byte to ${maxSecretValueBytes / 1024} KiB without NUL`, {
        hint: 'Give the password or the postgresql:// URI itself.', details: { field: 'value' },
      });
    }
    registerSecret(value);
    await this.#rows.put(name, this.#key.seal(Buffer.from(value, 'utf8'), associatedData(name)), this.#key.id);
  }

  /** The value, or undefined when no such secret exists. */
  async get(name: string): Promise<string | undefined> {
    checkName(name);
    const row = await this.#rows.get(name);
    if (!row) return undefined;
    if (row.keyId !== this.#key.id) {
      throw new UserErrorMasterKeyMismatch(`secret "${name}" was sealed under another master key (${row.keyId}) than the one loaded (${this.#key.id})`, {
        hint: 'Start pgvault with the master key it used before (PGVAULT_MASTER_KEY or <dataDir>/master.key), or set the secret again.',
        details: { name },
      });
    }
    const value = this.#key.open(row.sealed, associatedData(name)).toString('utf8');
    registerSecret(value);
    return value;
  }

  /** Names and times only. */
  list(): Promise<{ name: string; createdAt: Date; updatedAt: Date }[]> {
    return this.#rows.list();
  }

  /** Returns false when no such secret existed. */
  async delete(name: string): Promise<boolean> {
    return this.#rows.delete(checkName(name));
  }
}
