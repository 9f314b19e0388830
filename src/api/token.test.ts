import { describe, expect, it } from 'vitest';
import { redact } from '../lib/index.ts';
import { hashSecret, mintToken, parseToken, secretMatches } from './token.ts';

describe('API tokens', () => {
  it('mints pgv_<id>_<secret> tokens whose secret matches only its own hash', () => {
    const a = mintToken();
    const b = mintToken();
    expect(a.token).toMatch(/^pgv_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    const pa = parseToken(a.token)!;
    expect(pa.id).toBe(a.id);
    expect(secretMatches(pa.secret, a.secretHash)).toBe(true);
    expect(secretMatches(pa.secret, b.secretHash)).toBe(false);
    expect(a.secretHash).toBe(hashSecret(pa.secret));
    expect(a.secretHash).not.toContain(pa.secret);
  });
  it('refuses strings that are not pgvault tokens', () => {
    for (const bad of ['', 'pgv_', 'pgv_abc_def', 'Bearer x', `pgv_${'a'.repeat(12)}_${'b'.repeat(42)}`, `pgv_${'A'.repeat(12)}_${'b'.repeat(43)}`]) {
      expect(parseToken(bad)).toBeUndefined();
    }
  });
  it('a malformed stored hash never matches', () => {
    const a = mintToken();
    expect(secretMatches(parseToken(a.token)!.secret, 'zz')).toBe(false);
  });
  it('registers minted tokens for redaction', () => {
    const a = mintToken();
    expect(redact(`token is ${a.token}`)).not.toContain(a.token);
  });
});
