/** Error translation of the Azure driver against a loopback server that always fails (Azurite cannot be
 *  told to throttle). The conformance and credential tests run against Azurite under test/integration/. */
import { describe, expect, it } from 'vitest';
import { UserErrorConflict } from '../../lib/index.ts';
import { TransientErrorStorageUnavailable, UserErrorStorageAccessDenied } from '../errors.ts';
import { startFailingHttpServer } from '../testing/failing-http-server.ts';
import type { StorageKey } from '../storage-backend.ts';
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

describe('AzureBlobBackend upload backpressure', () => {
  it('reads no further ahead than the blocks in flight while the store does not answer', async () => {
    const { createServer } = await import('node:http');
    const { Readable } = await import('node:stream');
    let received = 0;
    const pending: import('node:http').ServerResponse[] = [];
    const server = createServer((req, res) => {
      // Answers the open() listing; holds every block upload without answering, as a stalled store would.
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0"?><EnumerationResults><Blobs/><NextMarker/></EnumerationResults>');
        return;
      }
      received++;
      req.resume();
      pending.push(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const blockBytes = 256 * 1024;
    const concurrency = 2;
    try {
      const b = await AzureBlobBackend.open('azblob://acct1/c01', { accountKey: key, endpoint: `http://127.0.0.1:${port}/acct1`, blockBytes, uploadConcurrency: concurrency, sdkMaxTries: 1 });
      let pulled = 0;
      const body = new Readable({
        highWaterMark: 64 * 1024,
        read() {
          pulled += 64 * 1024;
          this.push(Buffer.alloc(64 * 1024, 1)); // endless
        },
      });
      const ac = new AbortController();
      const put = b.put('big' as StorageKey, body, { signal: ac.signal }).then(() => 'resolved', (e: unknown) => e);
      while (received < concurrency) await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      // concurrency blocks on the wire + the block being filled + the stream's own buffer.
      expect(pulled).toBeLessThanOrEqual((concurrency + 1) * blockBytes + 2 * 64 * 1024);
      expect(received).toBe(concurrency);
      ac.abort();
      const outcome = await put;
      expect(outcome).toBeInstanceOf(Error);
      expect((outcome as Error).name).toBe('AbortError');
      expect(body.destroyed).toBe(true);
    } finally {
      for (const res of pending) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
