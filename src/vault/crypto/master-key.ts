/** The vault's master key (dataKey for AES-256-GCM, idKey for HMAC-SHA-256 blob ids) and its wrapping into
 *  key files by a KEK from scrypt (vault-format.md §4). Never log, serialise or put a key or passphrase into
 *  an error; key bytes leave this module only as the wrapped envelope. */
import { createHmac, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { associatedData, open, seal } from './envelope.ts';
import type { KeyId } from '../ids.ts';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** 64 MiB, ~0.2 s on this machine; recorded per key file so it can be raised later. */
export const defaultScryptParams: ScryptParams = { N: 1 << 16, r: 8, p: 1 };

export interface MasterKey {
  readonly dataKey: Buffer;
  readonly idKey: Buffer;
}

export interface KeyFile {
  version: 1;
  vaultId: string;
  createdAt: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  wrapped: string;
}

export function newMasterKey(): MasterKey {
  const bytes = randomBytes(64);
  return { dataKey: bytes.subarray(0, 32), idKey: bytes.subarray(32, 64) };
}

/** The keyed blob id: HMAC-SHA-256(idKey, plaintext), hex. */
export function blobIdOf(idKey: Uint8Array, plaintext: Uint8Array): string {
  return createHmac('sha256', idKey).update(plaintext).digest('hex');
}

export function checkScryptParams(p: ScryptParams): void {
  const ok = Number.isInteger(p.N) && p.N >= 2 && (p.N & (p.N - 1)) === 0 && Number.isInteger(p.r) && p.r >= 1 && Number.isInteger(p.p) && p.p >= 1;
  if (!ok || 128 * p.N * p.r > 2 ** 31) {
    throw new UserErrorInvalidInput('scrypt parameters are invalid', { hint: 'N must be a power of two, r and p positive integers, 128*N*r at most 2 GiB.' });
  }
}

export function deriveKek(passphrase: string, salt: Uint8Array, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(Buffer.from(passphrase, 'utf8'), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 128 * p.N * p.r + (1 << 20) }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function wrapMasterKey(mk: MasterKey, passphrase: string, keyId: KeyId, vaultId: string, kdf: ScryptParams, now: Date): Promise<KeyFile> {
  checkScryptParams(kdf);
  const salt = randomBytes(32);
  const kek = await deriveKek(passphrase, salt, kdf);
  const env = seal(kek, associatedData.key(keyId, vaultId), [Buffer.of(0), mk.dataKey, mk.idKey]);
  return {
    version: 1,
    vaultId,
    createdAt: now.toISOString(),
    kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: salt.toString('base64') },
    wrapped: env.toString('base64'),
  };
}

/** Returns the master key, or undefined when the passphrase does not open this key file. */
export async function unwrapMasterKey(file: KeyFile, passphrase: string, keyId: KeyId): Promise<MasterKey | undefined> {
  const kdf = { N: file.kdf.N, r: file.kdf.r, p: file.kdf.p };
  checkScryptParams(kdf);
  const kek = await deriveKek(passphrase, Buffer.from(file.kdf.salt, 'base64'), kdf);
  let plain: Buffer;
  try {
    plain = open(kek, associatedData.key(keyId, file.vaultId), Buffer.from(file.wrapped, 'base64'), `key file "${keyId}"`);
  } catch {
    return undefined;
  }
  if (plain.length !== 65 || plain[0] !== 0) return undefined;
  return { dataKey: Buffer.from(plain.subarray(1, 33)), idKey: Buffer.from(plain.subarray(33, 65)) };
}
