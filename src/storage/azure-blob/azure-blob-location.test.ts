import { describe, expect, it } from 'vitest';
import { UserErrorInvalidStorageUrl } from '../errors.ts';
import { parseAzureBlobUrl } from './azure-blob-location.ts';

describe('parseAzureBlobUrl', () => {
  it('parses azblob:// with and without a prefix', () => {
    expect(parseAzureBlobUrl('azblob://acct1/vaults')).toEqual({
      account: 'acct1', container: 'vaults', prefix: '', endpoint: 'https://acct1.blob.core.windows.net', display: 'azblob://acct1/vaults',
    });
    expect(parseAzureBlobUrl('azblob://acct1/vaults/prod/db1/')).toMatchObject({ prefix: 'prod/db1/', display: 'azblob://acct1/vaults/prod/db1' });
    expect(parseAzureBlobUrl('azblob://acct1/vaults/prod', { endpoint: 'http://127.0.0.1:10000/acct1' }).endpoint).toBe('http://127.0.0.1:10000/acct1');
  });
  it('takes the SAS from an https URL apart and keeps it out of the display form', () => {
    const loc = parseAzureBlobUrl('https://acct1.blob.core.windows.net/vaults/p?sv=2024-01-01&sp=rl&sig=SECRETSIG%3D');
    expect(loc).toMatchObject({ account: 'acct1', container: 'vaults', prefix: 'p/', endpoint: 'https://acct1.blob.core.windows.net' });
    expect(loc.sasToken).toBe('sv=2024-01-01&sp=rl&sig=SECRETSIG%3D');
    expect(loc.display).not.toContain('SECRET');
  });
  it('accepts path-style http only on loopback (emulators)', () => {
    expect(parseAzureBlobUrl('http://127.0.0.1:10000/devstoreaccount1/c01/x')).toMatchObject({
      account: 'devstoreaccount1', container: 'c01', prefix: 'x/', endpoint: 'http://127.0.0.1:10000/devstoreaccount1',
    });
    expect(() => parseAzureBlobUrl('http://example.com/acct1/c01')).toThrow(/plain http/);
  });
  it.each([
    ['not a url', /not a URL/],
    ['azblob://acct1', /container/],
    ['azblob://acct1/ab', /container/],
    ['azblob://acct1/Upper', /container/],
    ['azblob://a/c01', /account/],
    ['azblob://acct1/c01?sig=x', /takes no query/],
    ['azblob://acct1/c01/a/../b', /"\.\." segment/],
    ['azblob://acct1/c01/../other', /"\.\." segment/],
    ['https://acct1.blob.core.windows.net/c01/%2e%2e/x?sig=s', /"\.\." segment/],
    ['azblob://acct1/c01/a//b', /prefix/],
    ['ftp://acct1/c01', /scheme/],
    ['https://user:pw@acct1.blob.core.windows.net/c01', /user:password/],
  ])('refuses %j with UserErrorInvalidStorageUrl', (url, why) => {
    let err: unknown;
    try {
      parseAzureBlobUrl(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserErrorInvalidStorageUrl);
    expect((err as Error).message).toMatch(why);
    expect((err as UserErrorInvalidStorageUrl).hint).toBeTruthy();
    expect((err as Error).message).not.toContain(':pw@');
  });
});
