/** Error translation of the Azure driver against a loopback server that always fails (Azurite cannot be
 *  told to throttle). The conformance and credential tests run against Azurite under test/integration/. */
import { describe, expect, it } from 'vitest';
import { UserErrorConflict } from '../../lib/index.ts';
import { TransientErrorStorageUnavailable, UserErrorStorageAccessDenied } from '../errors.ts';
import { startFailingHttpServer } from '../testing/failing-http-server.ts';
import { AzureBlobBackend } from './azure-blob-backend.ts';

const key = Buffer.from('a-key-that-must-never-be-printed').toString('base64');

async function openAgainst(status: number, errorCode: string): Promise<{ err: unknown; requests: number }> {
  const srv = await startFailingHttpServer(status, { 'x-ms-error-code': errorCode }, `<?xml version="1.0"?><Error><Code>${errorCode}</Code><Message>nope</Message></Error>`);
  try {
    const err = await AzureBlobBackend.open('azblob://acct1/c01/p', { accountKey: key, endpoint: `${srv.url}/acct1`, sdkMaxTries: 2 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, requests: srv.requests };
  } finally {
    await srv.close();
  }
}

describe('AzureBlobBackend error translation', () => {
  it.each([
    // The SDK itself retries 5xx (sdkMaxTries 2) but not 429; RetryingBackend retries all of them.
    [503, 'ServerBusy', 2],
    [500, 'InternalError', 2],
    [429, 'TooManyRequests', 1],
  ])('%i %s → TransientErrorStorageUnavailable after %i request(s)', async (status, code, attempts) => {
    const { err, requests } = await openAgainst(status, code);
    expect(err).toBeInstanceOf(TransientErrorStorageUnavailable);
    expect((err as TransientErrorStorageUnavailable).details).toMatchObject({ status, errorCode: code });
    expect(requests).toBe(attempts);
    expect(JSON.stringify((err as TransientErrorStorageUnavailable).toJSON())).not.toContain(key);
  });
  it('403 → UserErrorStorageAccessDenied, 409 (not a put-if-absent) → UserErrorConflict', async () => {
    expect((await openAgainst(403, 'AuthorizationFailure')).err).toBeInstanceOf(UserErrorStorageAccessDenied);
    expect((await openAgainst(409, 'LeaseIdMissing')).err).toBeInstanceOf(UserErrorConflict);
  });
});
