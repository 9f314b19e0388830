/** The master key that seals pgvault's own secrets at rest (AES-256-GCM): from PGVAULT_MASTER_KEY (32 bytes,
 *  base64 or hex) or <dataDir>/master.key (created 0600 on first use, refused if group/other may read it).
 *  The raw key never leaves this module: callers get seal/open and a fingerprint id. Sealed format v1:
 *  0x01 | nonce(12) | ciphertext | tag(16); the version byte is persisted: never reuse one. */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { registerSecret } from '../lib/index.ts';
import { IntegrityErrorSecretUnsealFailed, UserErrorMasterKeyInvalid } from './secrets-errors.ts';

export const sealedFormat = { v1: 0x01 /* AES-256-GCM, 12-byte nonce, 16-byte tag: never reuse */ } as const;

/** Seals and opens values under one 256-bit key. open() throws IntegrityErrorSecretUnsealFailed when the
 *  bytes or the associated data were altered. */
export interface MasterKey {
  /** A fingerprint naming the key (16 hex digits); safe to store and show. */
  readonly id: string;
  seal(plaintext: Buffer, associatedData: string): Buffer;
  open(sealed: Buffer, associatedData: string): Buffer;
}

export function masterKeyFromBytes(key: Buffer): MasterKey {
  if (key.length !== 32) throw new UserErrorMasterKeyInvalid('the master key must be 32 bytes', { hint: 'Generate one with `openssl rand -base64 32`.' });
  const k = Buffer.from(key);
  const id = createHash('sha256').update('pgvault master key id\0').update(k).digest('hex').slice(0, 16);
  return {
    id,
    seal(plaintext, associatedData) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', k, nonce);
      cipher.setAAD(Buffer.from(associatedData, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.from([sealedFormat.v1]), nonce, body, cipher.getAuthTag()]);
    },
    open(sealed, associatedData) {
      if (sealed.length < 1 + 12 + 16 || sealed[0] !== sealedFormat.v1) {
        throw new IntegrityErrorSecretUnsealFailed('a sealed secret has an unknown format', { hint: 'The catalog row was altered or written by a newer pgvault.' });
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', k, sealed.subarray(1, 13));
        decipher.setAAD(Buffer.from(associatedData, 'utf8'));
        decipher.setAuthTag(sealed.subarray(sealed.length - 16));
        return Buffer.concat([decipher.update(sealed.subarray(13, sealed.length - 16)), decipher.final()]);
      } catch {
        throw new IntegrityErrorSecretUnsealFailed('a sealed secret does not authenticate under the master key', {
          hint: 'The stored secret was altered; set it again with `pgvault secret set`.',
        });
      }
    },
  };
}

function parseKeyText(text: string, source: string): Buffer {
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
      : null;
  if (!bytes || bytes.length !== 32) {
    throw new UserErrorMasterKeyInvalid(`${source} does not hold a 32-byte key in base64 or hex`, {
      hint: 'Generate one with `openssl rand -base64 32`; keep it secret and backed up outside the vault.',
    });
  }
  registerSecret(t);
  return bytes;
}

export interface LoadMasterKeyOptions {
  dataDir: string;
  env?: Record<string, string | undefined>;
}

/** PGVAULT_MASTER_KEY wins; else <dataDir>/master.key, created with a random key when missing. */
export function loadMasterKey(opts: LoadMasterKeyOptions): MasterKey {
  const env = opts.env ?? process.env;
  const fromEnv = env.PGVAULT_MASTER_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return masterKeyFromBytes(parseKeyText(fromEnv, 'PGVAULT_MASTER_KEY'));
  const path = join(opts.dataDir, 'master.key');
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserErrorMasterKeyInvalid(`"${path}" is not a regular file`, { hint: 'Remove it; pgvault creates a new master key on start (existing secrets then need setting again).' });
    if ((st.mode & 0o077) !== 0) {
      throw new UserErrorMasterKeyInvalid(`"${path}" may be read or written by other users (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `Run: chmod 600 ${path}`,
      });
    }
    return masterKeyFromBytes(parseKeyText(readFileSync(fd, 'utf8'), `"${path}"`));
  } finally {
    closeSync(fd);
  }
}
