/** Catalog ids: a type prefix and a ULID (48-bit time, 80 random bits, Crockford base32), so ids sort by
 *  creation time and say what they name. Prefixes are persisted: never reuse or change one. */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../lib/index.ts';

export const idPrefix = {
  vault: 'vault',
  policy: 'pol',
  backupInstance: 'bi',
  recoveryPoint: 'rp',
  job: 'job',
  apiToken: 'tok',
} as const;
export type IdKind = keyof typeof idPrefix;

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function ulid(nowMs: number): string {
  let time = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  let random = '';
  for (let i = 0; i < 16; i++) random += alphabet[rnd[i]! % 32]!;
  return time + random;
}

export function newId(kind: IdKind, clock: Clock): string {
  return `${idPrefix[kind]}_${ulid(clock.now().getTime())}`;
}

const idPattern = /^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isId(kind: IdKind, value: string): boolean {
  return value.startsWith(`${idPrefix[kind]}_`) && idPattern.test(value);
}
