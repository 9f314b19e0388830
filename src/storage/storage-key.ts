/** Parses and checks storage keys, list prefixes and byte ranges at the boundary of every driver, so that a
 *  key can never name a path outside a backend's root nor mean different things to different stores.
 *  Pure: no I/O. Never accepts a key it cannot round-trip through every driver (filesystem, Azure, S3). */
import type { ByteRange, StorageKey } from './storage-backend.ts';
import { UserErrorInvalidInput } from '../lib/index.ts';
import { UserErrorInvalidStorageKey } from './errors.ts';

/** Limits that fit every store: S3 and Azure allow 1024 bytes per key, filesystems 255 bytes per name. */
export const maxKeyBytes = 1024;
export const maxSegmentBytes = 255;

// C0 controls and DEL: NUL breaks paths, the others break listings and logs.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function check(s: unknown, what: 'key' | 'prefix'): string {
  if (typeof s !== 'string') throw new UserErrorInvalidStorageKey(`storage ${what} must be a string, got ${typeof s}`);
  const shown = JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
  const fail = (why: string): never => {
    throw new UserErrorInvalidStorageKey(`invalid storage ${what} ${shown}: ${why}`, { details: { [what === 'key' ? 'object' : 'prefix']: s.slice(0, 200) } });
  };
  if (Buffer.byteLength(s, 'utf8') > maxKeyBytes) fail(`longer than ${maxKeyBytes} bytes`);
  if (s.startsWith('/')) fail('starts with "/"');
  if (s.includes('\\')) fail('contains a backslash');
  if (controlChars.test(s)) fail('contains a control character');
  if (s.includes('..')) fail('contains ".."');
  if (s.includes('//')) fail('contains "//" (an empty segment)');
  if (loneSurrogate.test(s)) fail('is not well-formed Unicode (a lone surrogate)');
  for (const seg of s.split('/')) {
    if (seg === '.') fail('contains a "." segment');
    if (Buffer.byteLength(seg, 'utf8') > maxSegmentBytes) fail(`has a segment longer than ${maxSegmentBytes} bytes`);
  }
  return s;
}

/** Checks a key and brands it. Throws UserErrorInvalidStorageKey for an empty key, a leading "/", "..",
 *  "//", a "." segment, a trailing "/", a backslash, a control character (NUL included), more than 1024
 *  bytes, or a segment of more than 255 bytes. */
export function parseStorageKey(s: string): StorageKey {
  check(s, 'key');
  if (s === '') throw new UserErrorInvalidStorageKey('invalid storage key "": empty');
  if (s.endsWith('/')) throw new UserErrorInvalidStorageKey(`invalid storage key ${JSON.stringify(s)}: ends with "/" (an empty segment)`);
  return s as StorageKey;
}

/** Checks a list prefix: the key rules, except that it may be empty (everything) and may end with "/". */
export function parseStoragePrefix(s: string): string {
  return check(s, 'prefix');
}

/** Checks a byte range: offset and length are non-negative safe integers. */
export function checkByteRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const ok = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (!ok(range.offset) || !ok(range.length)) {
    throw new UserErrorInvalidInput(`invalid byte range ${JSON.stringify(range)}: offset and length must be non-negative integers`, {
      hint: 'A range is { offset, length } in bytes, both integers ≥ 0.',
    });
  }
}
