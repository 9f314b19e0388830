/** The Azure Blob driver against Azurite beyond the conformance suite: credentials (shared key, SAS in an
 *  https-style URL, a read-only SAS), a missing container, an unreachable endpoint, and that no credential
 *  ever reaches an error's message, hint, details or JSON. */
import { createServer } from 'node:net';
import { BlobSASPermissions, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AzureBlobBackend,
  RetryingBackend,
  StorageErrorNotFound,
  openStorage,
  TransientErrorStorageUnavailable,
  UserErrorInvalidStorageUrl,
  UserErrorStorageAccessDenied,
  type StorageKey,
} from '../../src/storage/index.ts';
import { readAll } from '../../src/storage/testing/conformance.ts';
import { startAzurite, type AzuriteHandle } from '../support/azurite.ts';

let az: AzuriteHandle;
beforeAll(async () => {
  az = await startAzurite();
  const b = await AzureBlobBackend.open(`azblob://${az.accountName}/sas-tests`, { accountKey: az.accountKey, endpoint: az.blobEndpoint, createContainer: true });
  await b.put('p/existing' as StorageKey, Buffer.from('hello'));
});
afterAll(async () => {
  await az?.stop();
});

function sas(permissions: string): string {
  return generateBlobSASQueryParameters(
    { containerName: 'sas-tests', permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 3_600_000) },
    new StorageSharedKeyCredential(az.accountName, az.accountKey),
  ).toString();
}

function expectNoSecret(err: unknown, secrets: string[]): void {
  const e = err as { message: string; hint?: string; toJSON?: () => unknown };
  const text = [e.message, e.hint ?? '', JSON.stringify(e.toJSON?.() ?? {}), String(err)].join('\n');
  for (const s of secrets) expect(text).not.toContain(s);
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('AzureBlobBackend credentials and failures (Azurite)', () => {
  it('works with a SAS carried by the URL, and keeps the signature out of the location', async () => {
    const token = sas('racwdl');
    const b = await AzureBlobBackend.open(`${az.blobEndpoint}/sas-tests/p?${token}`);
    expect(b.location).toBe(`azblob://${az.accountName}/sas-tests/p`);
    expect((await readAll(await b.get('existing' as StorageKey))).toString()).toBe('hello');
    await b.put('via-sas' as StorageKey, Buffer.from('ok'));
    expect((await b.stat('via-sas' as StorageKey)).sizeBytes).toBe(2);
  });

  it('a read-only SAS reads but a put fails with UserErrorStorageAccessDenied, without the signature', async () => {
    const token = sas('rl');
    const sig = new URLSearchParams(token).get('sig')!;
    const b = await AzureBlobBackend.open(`${az.blobEndpoint}/sas-tests/p?${token}`);
    expect((await readAll(await b.get('existing' as StorageKey))).toString()).toBe('hello');
    const err = await failure(b.put('nope' as StorageKey, Buffer.from('x')));
    expect(err).toBeInstanceOf(UserErrorStorageAccessDenied);
    expect((err as UserErrorStorageAccessDenied).httpStatus).toBe(403);
    expectNoSecret(err, [sig, token]);
    expect((err as Error).cause).toBeUndefined();
  });

  it('a wrong account key fails at open with UserErrorStorageAccessDenied and never shows the key', async () => {
    const wrongKey = Buffer.from('definitely-not-the-azurite-key-0123456789').toString('base64');
    const err = await failure(AzureBlobBackend.open(`azblob://${az.accountName}/sas-tests`, { accountKey: wrongKey, endpoint: az.blobEndpoint, sdkMaxTries: 1 }));
    expect(err).toBeInstanceOf(UserErrorStorageAccessDenied);
    expectNoSecret(err, [wrongKey]);
  });

  it('a missing container is a UserErrorInvalidStorageUrl at open, not an empty vault', async () => {
    const err = await failure(AzureBlobBackend.open(`azblob://${az.accountName}/no-such-container`, { accountKey: az.accountKey, endpoint: az.blobEndpoint }));
    expect(err).toBeInstanceOf(UserErrorInvalidStorageUrl);
    expect((err as Error).message).toContain('does not exist');
  });

  it('an unreachable endpoint is TransientErrorStorageUnavailable', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
      });
    });
    const err = await failure(
      AzureBlobBackend.open(`azblob://${az.accountName}/sas-tests`, { accountKey: az.accountKey, endpoint: `http://127.0.0.1:${port}/${az.accountName}`, sdkMaxTries: 1 }),
    );
    expect(err).toBeInstanceOf(TransientErrorStorageUnavailable);
    expectNoSecret(err, [az.accountKey]);
  });

  it('a blob-scoped SAS without list permission is refused at open with a coded error', async () => {
    const token = generateBlobSASQueryParameters(
      { containerName: 'sas-tests', blobName: 'p/existing', permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3_600_000) },
      new StorageSharedKeyCredential(az.accountName, az.accountKey),
    ).toString();
    const err = await failure(AzureBlobBackend.open(`${az.blobEndpoint}/sas-tests/p?${token}`));
    expect(err).toBeInstanceOf(UserErrorStorageAccessDenied);
    expectNoSecret(err, [new URLSearchParams(token).get('sig')!]);
  });

  it('get of a missing key is StorageErrorNotFound with the key and location in details', async () => {
    const b = await AzureBlobBackend.open(`azblob://${az.accountName}/sas-tests/p`, { accountKey: az.accountKey, endpoint: az.blobEndpoint });
    const err = await failure(b.get('missing/key' as StorageKey));
    expect(err).toBeInstanceOf(StorageErrorNotFound);
    expect((err as StorageErrorNotFound).details).toMatchObject({ object: 'missing/key', location: `azblob://${az.accountName}/sas-tests/p`, status: 404 });
  });

  it('openStorage opens azblob:// and SAS https URLs through the Azure driver', async () => {
    const viaKey = await openStorage(`azblob://${az.accountName}/sas-tests/p`, { azure: { accountKey: az.accountKey, endpoint: az.blobEndpoint } });
    expect(viaKey).toBeInstanceOf(RetryingBackend);
    expect(viaKey.location).toBe(`azblob://${az.accountName}/sas-tests/p`);
    expect((await readAll(await viaKey.get('existing' as StorageKey))).toString()).toBe('hello');
    const viaSas = await openStorage(`${az.blobEndpoint}/sas-tests/p?${sas('rl')}`, { readOnly: true });
    expect((await viaSas.stat('existing' as StorageKey)).sizeBytes).toBe(5);
  });

  it('concurrent multi-block overwrites of one key: each put succeeds (retried when its blocks were discarded) and one body wins whole', async () => {
    const raw = await AzureBlobBackend.open(`azblob://${az.accountName}/sas-tests/race`, { accountKey: az.accountKey, endpoint: az.blobEndpoint, blockBytes: 64 * 1024 });
    const retried: string[] = [];
    const b = new RetryingBackend(raw, { baseDelayMs: 1, maxDelayMs: 20, maxAttempts: 8, onRetry: (i) => void retried.push((i.error as Error).message) });
    const bodies = Array.from({ length: 5 }, (_, i) => Buffer.alloc(5 * 64 * 1024 + 17, i + 1));
    await Promise.all(bodies.map((body) => b.put('same' as StorageKey, body)));
    const stored = await readAll(await b.get('same' as StorageKey));
    expect(bodies.some((body) => body.equals(stored))).toBe(true);
    // Here Azurite does interleave the uploads; any retry must be for that reason only.
    for (const m of retried) expect(m).toContain('discarded this upload');
  });
});
