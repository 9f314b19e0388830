/** The envelope of every encrypted object: nonce(12) || AES-256-GCM ciphertext || tag(16), with associated
 *  data that binds the object to its type and name (vault-format.md §6). Pure: bytes in, bytes out.
 *  Never reuse a nonce on purpose, never shorten the tag (authTagLength is pinned to 16). */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { IntegrityErrorAuthenticationFailed } from '../errors.ts';

export const nonceBytes = 12;
export const tagBytes = 16;
/** Smallest valid envelope: nonce, one codec byte, tag. */
export const minEnvelopeBytes = nonceBytes + 1 + tagBytes;

/** Associated data strings of vault-format.md §6; persisted meaning: never change one. */
export const associatedData = {
  key: (keyId: string, vaultId: string) => `pgvault/v1/key/${keyId}/${vaultId}`,
  blob: (blobId: string) => `pgvault/v1/blob/${blobId}`,
  packHeader: (packId: string) => `pgvault/v1/pack-header/${packId}`,
  index: (indexId: string) => `pgvault/v1/index/${indexId}`,
  manifest: (manifestId: string) => `pgvault/v1/manifest/${manifestId}`,
  prunePlan: (planId: string) => `pgvault/v1/prune/${planId}`,
} as const;

/** Encrypts `plaintext` (already codec byte + payload, given as parts to avoid a copy).
 *  `nonce` is for golden vectors only; production passes none and gets 12 random bytes. */
export function seal(key: Uint8Array, aad: string, plaintext: readonly Uint8Array[], nonce?: Uint8Array): Buffer {
  const iv = nonce ?? randomBytes(nonceBytes);
  if (iv.length !== nonceBytes) throw new RangeError('nonce must be 12 bytes');
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
  cipher.setAAD(Buffer.from(aad, 'ascii'));
  const parts: Buffer[] = [Buffer.from(iv)];
  for (const p of plaintext) parts.push(cipher.update(p));
  parts.push(cipher.final(), cipher.getAuthTag());
  return Buffer.concat(parts);
}

/** Decrypts and authenticates; throws IntegrityErrorAuthenticationFailed (naming `what`) on any mismatch. */
export function open(key: Uint8Array, aad: string, envelope: Uint8Array, what: string): Buffer {
  if (envelope.length < minEnvelopeBytes) {
    throw new IntegrityErrorAuthenticationFailed(what, { details: { sizeBytes: envelope.length } });
  }
  const iv = envelope.subarray(0, nonceBytes);
  const tag = envelope.subarray(envelope.length - tagBytes);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
  decipher.setAAD(Buffer.from(aad, 'ascii'));
  decipher.setAuthTag(tag);
  const body = decipher.update(envelope.subarray(nonceBytes, envelope.length - tagBytes));
  try {
    const last = decipher.final();
    return last.length === 0 ? body : Buffer.concat([body, last]);
  } catch (err) {
    throw new IntegrityErrorAuthenticationFailed(what, { cause: err });
  }
}
