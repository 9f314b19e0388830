/** Branded identifiers of vault objects and their parsing at the boundary.
 *  Every id is 32 bytes written as 64 lowercase hex digits (see docs/design/vault-format.md §2). */
import { randomBytes } from 'node:crypto';
import { UserErrorInvalidInput } from '../lib/index.ts';

export type BlobId = string & { readonly __brand: 'BlobId' };
export type PackId = string & { readonly __brand: 'PackId' };
export type IndexId = string & { readonly __brand: 'IndexId' };
export type ManifestId = string & { readonly __brand: 'ManifestId' };
export type KeyId = string & { readonly __brand: 'KeyId' };
export type PlanId = string & { readonly __brand: 'PlanId' };

const hex64 = /^[0-9a-f]{64}$/;

export function isObjectId(s: string): boolean {
  return hex64.test(s);
}

/** 32 random bytes as hex: the name of a pack, index, manifest, key file or prune plan. */
export function randomObjectId<T extends string>(): T {
  return randomBytes(32).toString('hex') as T;
}

export function parseManifestId(s: string): ManifestId {
  if (!hex64.test(s)) {
    throw new UserErrorInvalidInput(`"${s.slice(0, 80)}" is not a manifest id`, { hint: 'A manifest id is 64 lowercase hex digits.' });
  }
  return s as ManifestId;
}

export function parseKeyId(s: string): KeyId {
  if (!hex64.test(s)) throw new UserErrorInvalidInput(`"${s.slice(0, 80)}" is not a key id`, { hint: 'A key id is 64 lowercase hex digits.' });
  return s as KeyId;
}
