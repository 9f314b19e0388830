/** Credential references parse strictly, format back to the same text, and a malformed one is a coded error
 *  that never echoes what followed the scheme. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCredentialReference, parseCredentialReference } from './credential-reference.ts';
import { UserErrorInvalidCredentialReference } from './secrets-errors.ts';

describe('parseCredentialReference', () => {
  it('parses the four kinds', () => {
    expect(parseCredentialReference('secret:prod-db.pw_1')).toEqual({ kind: 'secret', name: 'prod-db.pw_1' });
    expect(parseCredentialReference('env:PGVAULT_DB_PASSWORD')).toEqual({ kind: 'env', variable: 'PGVAULT_DB_PASSWORD' });
    expect(parseCredentialReference('file:/run/secrets/db password')).toEqual({ kind: 'file', path: '/run/secrets/db password' });
    expect(parseCredentialReference('azure-keyvault:https://myvault.vault.azure.net/secrets/db-pw')).toEqual({
      kind: 'azure-keyvault', vaultUrl: 'https://myvault.vault.azure.net', secretName: 'db-pw',
    });
    expect(parseCredentialReference('azure-keyvault:https://myvault.vault.azure.net/secrets/db-pw/0123abcd0123abcd0123abcd0123abcd')).toEqual({
      kind: 'azure-keyvault', vaultUrl: 'https://myvault.vault.azure.net', secretName: 'db-pw', version: '0123abcd0123abcd0123abcd0123abcd',
    });
  });

  it.each([
    ['', 'empty'],
    ['hunter2-the-password', 'no scheme'],
    ['postgresql://u:hunter2@h/db', 'a URI in place of a reference'],
    ['vault:thing', 'unknown scheme'],
    ['secret:', 'empty name'],
    ['secret:../etc/passwd', 'path in a secret name'],
    ['secret:a"b', 'quote'],
    [`secret:${'a'.repeat(64)}`, 'name too long'],
    ['env:1ABC', 'bad variable'],
    ['env:A-B', 'bad variable'],
    ['file:relative/path', 'relative path'],
    ['file:/run/../etc/shadow', 'dot-dot'],
    ['file:/run/secrets/', 'directory'],
    ['file:/a\0b', 'NUL'],
    ['azure-keyvault:http://myvault.vault.azure.net/secrets/x', 'not https'],
    ['azure-keyvault:https://myvault.vault.azure.net/keys/x', 'not a secret'],
    ['azure-keyvault:https://myvault.vault.azure.net/secrets/', 'no name'],
    ['azure-keyvault:https://myvault.vault.azure.net/secrets/a_b', 'bad name'],
    ['azure-keyvault:https://myvault.vault.azure.net/secrets/a/v/extra', 'too deep'],
    ['azure-keyvault:https://myvault.vault.azure.net/secrets/a?x=1', 'query'],
    ['azure-keyvault:https://user:pw@myvault.vault.azure.net/secrets/a', 'userinfo'],
  ])('refuses %j (%s) with a coded error and a hint', (text) => {
    let err: unknown;
    try {
      parseCredentialReference(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserErrorInvalidCredentialReference);
    const e = err as UserErrorInvalidCredentialReference;
    expect(e.code).toBe('UserErrorInvalidCredentialReference');
    expect(e.hint).toBeTruthy();
    const after = text.includes(':') ? text.slice(text.indexOf(':') + 1) : text;
    if (after.length >= 4) expect(`${e.message} ${JSON.stringify(e.details)}`).not.toContain(after);
  });

  it('formats every parsed reference back to its text', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$/);
    const refs = fc.oneof(
      name.map((n) => `secret:${n}`),
      fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,30}$/).map((v) => `env:${v}`),
      fc.array(name, { minLength: 1, maxLength: 4 }).map((segs) => `file:/${segs.join('/')}`),
      fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{2,20}$/), fc.stringMatching(/^[0-9a-zA-Z-]{1,30}$/), fc.option(fc.stringMatching(/^[0-9a-f]{32}$/), { nil: undefined }))
        .map(([v, s, ver]) => `azure-keyvault:https://${v}.vault.azure.net/secrets/${s}${ver ? `/${ver}` : ''}`),
    );
    fc.assert(fc.property(refs, (text) => formatCredentialReference(parseCredentialReference(text)) === text));
  });
});
