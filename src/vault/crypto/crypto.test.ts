/** Envelope and key wrapping: golden vectors (fixed key and nonce → recorded ciphertext; cross-checked with
 *  Python's `cryptography` and `hashlib`), any flipped bit fails authentication, associated data binds names. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntegrityErrorAuthenticationFailed } from '../errors.ts';
import type { KeyId } from '../ids.ts';
import { associatedData, open, seal } from './envelope.ts';
import { blobIdOf, deriveKek, newMasterKey, unwrapMasterKey, wrapMasterKey } from './master-key.ts';

const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const nonce = Buffer.from(Array.from({ length: 12 }, (_, i) => 0xa0 + i));
const zeroBlob = '00'.repeat(32);

describe('envelope golden vectors', () => {
  it('AES-256-GCM of codec 0 + "hello pgvault" with key 00..1f, nonce a0..ab, blob associated data', () => {
    const env = seal(key, associatedData.blob(zeroBlob), [Buffer.of(0), Buffer.from('hello pgvault')], nonce);
    expect(env.toString('hex')).toBe('a0a1a2a3a4a5a6a7a8a9aaabe670194129a422cf0513e6a66b0e74e3f8fc98288350f00b54d4d309a48c');
    expect(open(key, associatedData.blob(zeroBlob), env, 'x').toString('utf8', 1)).toBe('hello pgvault');
  });

  it('blob id = HMAC-SHA-256(idKey, plaintext)', () => {
    expect(blobIdOf(key, Buffer.from('hello pgvault'))).toBe('b8927f772a72d969a2664cd9264c581f6c2df9aa5d27eb56689368c8e679d086');
  });

  it('KEK = scrypt(passphrase, salt, N, r, p, 32)', async () => {
    const kek = await deriveKek('correct horse', Buffer.alloc(32, 7), { N: 1024, r: 8, p: 1 });
    expect(kek.toString('hex')).toBe('603af72676ab229919faa2457dee3e510bb445b9a0cfa86833b7d05f6f75cb03');
  });
});

describe('envelope properties', () => {
  it('round-trips any plaintext', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (p) => {
        const env = seal(key, 'pgvault/v1/index/x', [Buffer.of(1), p]);
        expect(env.length).toBe(12 + 1 + p.length + 16);
        expect(open(key, 'pgvault/v1/index/x', env, 'x').equals(Buffer.concat([Buffer.of(1), p]))).toBe(true);
      }),
    );
  });

  it('any flipped bit fails authentication', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (p, pos, bit) => {
        const env = seal(key, associatedData.blob(zeroBlob), [Buffer.of(0), p]);
        const i = pos % env.length;
        env[i]! ^= 1 << bit;
        expect(() => open(key, associatedData.blob(zeroBlob), env, 'blob')).toThrow(IntegrityErrorAuthenticationFailed);
      }),
      { numRuns: 300 },
    );
  });

  it('an envelope opened under another name or type fails (objects cannot be swapped)', () => {
    const env = seal(key, associatedData.manifest('aa'.repeat(32)), [Buffer.of(0), Buffer.from('{}')]);
    expect(() => open(key, associatedData.manifest('bb'.repeat(32)), env, 'm')).toThrow(IntegrityErrorAuthenticationFailed);
    expect(() => open(key, associatedData.index('aa'.repeat(32)), env, 'm')).toThrow(IntegrityErrorAuthenticationFailed);
  });

  it('a truncated envelope fails', () => {
    const env = seal(key, 'a', [Buffer.of(0), Buffer.from('data')]);
    for (const n of [0, 5, 28, env.length - 1]) expect(() => open(key, 'a', env.subarray(0, n), 'x')).toThrow(IntegrityErrorAuthenticationFailed);
  });
});

describe('key files', () => {
  it('wrap and unwrap the master key; a wrong passphrase or another key id opens nothing', async () => {
    const mk = newMasterKey();
    const id = 'ab'.repeat(32) as KeyId;
    const f = await wrapMasterKey(mk, 'pass phrase', id, 'cd'.repeat(32), { N: 1024, r: 8, p: 1 }, new Date(0));
    expect(JSON.stringify(f)).not.toContain(mk.dataKey.toString('base64'));
    const got = await unwrapMasterKey(f, 'pass phrase', id);
    expect(got?.dataKey.equals(mk.dataKey)).toBe(true);
    expect(got?.idKey.equals(mk.idKey)).toBe(true);
    expect(await unwrapMasterKey(f, 'pass phrasE', id)).toBeUndefined();
    expect(await unwrapMasterKey(f, 'pass phrase', 'ef'.repeat(32) as KeyId)).toBeUndefined();
  });
});
