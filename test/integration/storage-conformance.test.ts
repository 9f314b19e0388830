/** Storage drivers against the shared conformance suite: the filesystem driver on a temp directory and the
 *  Azure Blob driver against Azurite (started here, stopped in afterAll). S3: storage-s3.test.ts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { AzureBlobBackend, FilesystemBackend } from '../../src/storage/index.ts';
import { describeStorageConformance } from '../../src/storage/testing/conformance.ts';
import { startAzurite, type AzuriteHandle } from '../support/azurite.ts';

const fsRoot = mkdtempSync(join(tmpdir(), 'pgvault-conformance-fs-'));
afterAll(() => rmSync(fsRoot, { recursive: true, force: true }));

describeStorageConformance('filesystem', () => new FilesystemBackend(join(fsRoot, 'vault')));

let azurite: AzuriteHandle | undefined;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

describeStorageConformance('azure-blob (Azurite)', () =>
  AzureBlobBackend.open(`azblob://${azurite!.accountName}/conformance/some/prefix`, {
    accountKey: azurite!.accountKey,
    endpoint: azurite!.blobEndpoint,
    createContainer: true,
  }),
);

describeStorageConformance(
  'azure-blob (Azurite, 64 KiB blocks: every body above 64 KiB is staged and committed)',
  () =>
    AzureBlobBackend.open(`azblob://${azurite!.accountName}/conformance-blocks`, {
      accountKey: azurite!.accountKey,
      endpoint: azurite!.blobEndpoint,
      createContainer: true,
      blockBytes: 64 * 1024,
      uploadConcurrency: 3,
    }),
  { manyKeys: 50 },
);
