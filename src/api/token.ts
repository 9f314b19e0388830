/** API tokens `pgv_<id>_<secret>`: a random 12-character id (public, the lookup key) and a random 32-byte
 *  secret of which only the SHA-256 is stored. Verification compares hashes in constant time.
 *  This module never logs, stores or returns a secret except in the one string mint() gives to its caller. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { registerSecret } from '../lib/index.ts';

const idAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const tokenRe = /^pgv_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface MintedToken {
  id: string;
  /** The full bearer token: shown once, never stored. */
  token: string;
  /** Hex SHA-256 of the secret part: what the catalog stores. */
  secretHash: string;
}

export function mintToken(): MintedToken {
  const bytes = randomBytes(12);
  let id = '';
  for (const b of bytes) id += idAlphabet[b % idAlphabet.length];
  const secret = randomBytes(32).toString('base64url');
  const token = `pgv_${id}_${secret}`;
  registerSecret(token);
  return { id, token, secretHash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Splits a bearer token; undefined when it is not of the pgvault form. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = tokenRe.exec(token);
  if (!m) return undefined;
  return { id: m[1] as string, secret: m[2] as string };
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
