/** The master key: sealing round-trips, binds the associated data, detects any altered byte, and is loaded
 *  from PGVAULT_MASTER_KEY or a 0600 <dataDir>/master.key (created on first use, refused when others may read it). */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { redact } from '../lib/index.ts';
import { loadMasterKey, masterKeyFromBytes } from './master-key.ts';
import { IntegrityErrorSecretUnsealFailed, UserErrorMasterKeyInvalid } from './secrets-errors.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pgvault-mk-'));
  dirs.push(d);
  return d;
}

describe('master key', () => {
  const key = masterKeyFromBytes(Buffer.alloc(32, 7));

  it('round-trips and authenticates the associated data', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 40 }), (plain, aad) => {
      const sealed = key.seal(Buffer.from(plain), aad);
      expect(Buffer.compare(key.open(sealed, aad), Buffer.from(plain))).toBe(0);
      expect(() => key.open(sealed, `${aad}x`)).toThrow(IntegrityErrorSecretUnsealFailed);
    }), { numRuns: 50 });
  });

  it('fails authentication when any one bit is flipped', () => {
    const sealed = key.seal(Buffer.from('correct horse battery staple'), 'name');
    fc.assert(fc.property(fc.nat({ max: sealed.length * 8 - 1 }), (bit) => {
      const copy = Buffer.from(sealed);
      copy[bit >> 3] = copy[bit >> 3]! ^ (1 << (bit & 7));
      expect(() => key.open(copy, 'name')).toThrow(IntegrityErrorSecretUnsealFailed);
    }));
  });

  it('never seals the same value to the same bytes, and another key cannot open it', () => {
    const a = key.seal(Buffer.from('same'), 'n');
    expect(Buffer.compare(a, key.seal(Buffer.from('same'), 'n'))).not.toBe(0);
    const other = masterKeyFromBytes(Buffer.alloc(32, 8));
    expect(other.id).not.toBe(key.id);
    expect(() => other.open(a, 'n')).toThrow(IntegrityErrorSecretUnsealFailed);
  });

  it('creates <dataDir>/master.key 0600 once and loads the same key again', () => {
    const dir = tempDir();
    const first = loadMasterKey({ dataDir: dir, env: {} });
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const again = loadMasterKey({ dataDir: dir, env: {} });
    expect(again.id).toBe(first.id);
    expect(again.open(first.seal(Buffer.from('x'), 'a'), 'a').toString()).toBe('x');
    // The key text is registered for redaction once loaded.
    const text = readFileSync(join(dir, 'master.key'), 'utf8').trim();
    expect(redact(`oops ${text}`)).not.toContain(text);
  });

  it('refuses a master.key that others may read', () => {
    const dir = tempDir();
    loadMasterKey({ dataDir: dir, env: {} });
    chmodSync(join(dir, 'master.key'), 0o644);
    expect(() => loadMasterKey({ dataDir: dir, env: {} })).toThrow(UserErrorMasterKeyInvalid);
  });

  it('takes PGVAULT_MASTER_KEY in base64 or hex and refuses anything else without echoing it', () => {
    const raw = Buffer.alloc(32, 9);
    const b64 = loadMasterKey({ dataDir: tempDir(), env: { PGVAULT_MASTER_KEY: raw.toString('base64') } });
    const hex = loadMasterKey({ dataDir: tempDir(), env: { PGVAULT_MASTER_KEY: raw.toString('hex') } });
    expect(b64.id).toBe(hex.id);
    expect(b64.id).toBe(masterKeyFromBytes(raw).id);
    let err: unknown;
    try {
      loadMasterKey({ dataDir: tempDir(), env: { PGVAULT_MASTER_KEY: 'too-short-Secret123' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserErrorMasterKeyInvalid);
    expect(JSON.stringify((err as UserErrorMasterKeyInvalid).toJSON())).not.toContain('too-short-Secret123');
  });

  it('refuses a master.key that is not a key', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'master.key'), 'not a key\n', { mode: 0o600 });
    expect(() => loadMasterKey({ dataDir: dir, env: {} })).toThrow(UserErrorMasterKeyInvalid);
  });
});
