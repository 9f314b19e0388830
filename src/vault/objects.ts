/** Object names in the vault's storage layout and the sealed-JSON encoding of index files, manifests and
 *  prune plans (vault-format.md §2, §6). Never rename a prefix: stored vaults depend on them. */
import type { StorageKey } from '../storage/contract/index.ts';
import { compress, decompress } from './compression/codec.ts';
import { open, seal } from './crypto/envelope.ts';
import { IntegrityErrorMalformedObject } from './errors.ts';

export const objectKey = {
  config: () => 'config' as StorageKey,
  key: (id: string) => `keys/${id}` as StorageKey,
  pack: (id: string) => `data/${id.slice(0, 2)}/${id}` as StorageKey,
  index: (id: string) => `index/${id}` as StorageKey,
  manifest: (id: string) => `manifests/${id}` as StorageKey,
  plan: (id: string) => `prune/${id}` as StorageKey,
};

export const prefixes = { keys: 'keys/', packs: 'data/', index: 'index/', manifests: 'manifests/', plans: 'prune/' } as const;

/** The id at the end of a key ("data/ab/abcd…" → "abcd…"). */
export function idOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export async function sealJson(dataKey: Uint8Array, aad: string, value: unknown): Promise<Buffer> {
  const c = await compress(Buffer.from(JSON.stringify(value), 'utf8'));
  return seal(dataKey, aad, [Buffer.of(c.codec), c.payload]);
}

export function openJson<T>(dataKey: Uint8Array, aad: string, envelope: Uint8Array, what: string): T {
  const plain = open(dataKey, aad, envelope, what);
  try {
    return JSON.parse(decompress(plain[0]!, plain.subarray(1)).toString('utf8')) as T;
  } catch (err) {
    throw new IntegrityErrorMalformedObject(what, err instanceof Error ? err.message : String(err));
  }
}
