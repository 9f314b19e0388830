import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UserErrorInvalidInput } from '../lib/index.ts';
import { UserErrorInvalidStorageKey } from './errors.ts';
import { checkByteRange, parseStorageKey, parseStoragePrefix } from './storage-key.ts';

describe('parseStorageKey', () => {
  it('accepts ordinary keys', () => {
    for (const k of ['config', 'data/3f/3f9a', 'a.b/c-d_e', 'snapshots/2026-01-01T00:00:00Z', 'ü/€', 'x'.repeat(255)]) {
      expect(parseStorageKey(k)).toBe(k);
    }
  });
  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'starts with "/"'],
    ['a/../b', '".."'],
    ['..', '".."'],
    ['a..b', '".."'],
    ['a//b', '"//"'],
    ['a/', 'ends with "/"'],
    ['a\\b', 'backslash'],
    ['a\u0000b', 'control character'],
    ['a\nb', 'control character'],
    ['./a', '"." segment'],
    ['a/./b', '"." segment'],
    ['x'.repeat(256), 'segment longer than 255'],
    [`${'x/'.repeat(600)}y`, 'longer than 1024'],
    ['a\uD800b', 'lone surrogate'],
  ])('refuses %j with a coded error (%s)', (key, why) => {
    let caught: unknown;
    try {
      parseStorageKey(key);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UserErrorInvalidStorageKey);
    expect(caught).toBeInstanceOf(UserErrorInvalidInput);
    const e = caught as UserErrorInvalidStorageKey;
    expect(e.code).toBe('UserErrorInvalidStorageKey');
    expect(e.message).toContain(why);
    expect(e.hint).toBeTruthy();
  });
  it('refuses non-strings', () => {
    expect(() => parseStorageKey(42 as unknown as string)).toThrow(UserErrorInvalidStorageKey);
  });
  it('never accepts a key that could climb out of a root (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '.', '..', '/', '\\', 'b', '\u0000', '%2e'), { maxLength: 12 }), (parts) => {
        const k = parts.join('');
        let ok = true;
        try {
          parseStorageKey(k);
        } catch {
          ok = false;
        }
        if (ok) {
          const segs = k.split('/');
          expect(segs.every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true);
          expect(k.includes('\\') || k.includes('\u0000')).toBe(false);
        }
      }),
    );
  });
});

describe('parseStoragePrefix', () => {
  it('accepts the empty prefix and a trailing slash', () => {
    expect(parseStoragePrefix('')).toBe('');
    expect(parseStoragePrefix('data/')).toBe('data/');
    expect(parseStoragePrefix('data/3')).toBe('data/3');
  });
  it('refuses escaping prefixes', () => {
    for (const p of ['/', '../', 'a//', 'a\\']) expect(() => parseStoragePrefix(p)).toThrow(UserErrorInvalidStorageKey);
  });
});

describe('checkByteRange', () => {
  it('accepts non-negative integers and refuses the rest', () => {
    expect(() => checkByteRange({ offset: 0, length: 0 })).not.toThrow();
    expect(() => checkByteRange(undefined)).not.toThrow();
    for (const r of [{ offset: -1, length: 1 }, { offset: 0, length: -1 }, { offset: 0.5, length: 1 }, { offset: 0, length: Number.NaN }]) {
      expect(() => checkByteRange(r)).toThrow(UserErrorInvalidInput);
    }
  });
});
