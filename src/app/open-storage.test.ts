import { describe, expect, it } from 'vitest';
import { checkStorageUrl } from './open-storage.ts';

describe('checkStorageUrl', () => {
  it('accepts absolute file URLs and Azure locations', () => {
    expect(checkStorageUrl('file:///srv/vaults/prod')).toEqual({ kind: 'file', path: '/srv/vaults/prod' });
    expect(checkStorageUrl('file://localhost/srv/v/')).toEqual({ kind: 'file', path: '/srv/v/' });
    expect(checkStorageUrl('azure-blob://acct/container/prefix')).toEqual({ kind: 'azure', url: 'azblob://acct/container/prefix' });
    expect(checkStorageUrl('https://acct.blob.core.windows.net/c/p').kind).toBe('azure');
    expect(checkStorageUrl('s3://bucket/prefix')).toEqual({ kind: 's3', url: 's3://bucket/prefix' });
  });
  it('refuses unknown schemes, hosts, dot segments (also encoded), queries and the root', () => {
    for (const bad of ['ftp://x/y', 's4://b', 'gopher:x', 'not a url', 'file://host/srv', 'file:///srv/a/../b', 'file:///srv/a/%2e%2e/b', 'file:///srv/./a', 'file:///srv/a?x=1', 'file:///', 'azblob://acct/c/../d', 's3://b/a/../c', 's3:///nobucket', 's3://b/p?x=1', 's3://key:secret@b/p']) {
      expect(() => checkStorageUrl(bad), bad).toThrowError(expect.objectContaining({ code: 'UserErrorInvalidStorageUrl' }));
    }
  });
});
