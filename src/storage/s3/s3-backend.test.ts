/** Error translation of the S3 driver against a loopback server that always fails (s3rver cannot be told
 *  to throttle). The conformance suite runs against s3rver in test/integration/storage-s3.test.ts. */
import { describe, expect, it } from 'vitest';
import { TransientErrorStorageUnavailable, UserErrorStorageAccessDenied } from '../errors.ts';
import { startFailingHttpServer } from '../testing/failing-http-server.ts';
import { S3Backend } from './s3-backend.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const secret = 'an-s3-secret-that-must-never-be-printed';

async function openAgainst(status: number, code: string): Promise<unknown> {
  const srv = await startFailingHttpServer(status, {}, `<?xml version="1.0"?><Error><Code>${code}</Code><Message>nope</Message></Error>`);
  try {
    return await S3Backend.open('s3://bucket1/p', { endpoint: srv.url, accessKeyId: 'AKID', secretAccessKey: secret, sdkMaxAttempts: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
  } finally {
    await srv.close();
  }
}

describe('S3Backend error translation', () => {
  it.each([
    [503, 'SlowDown'],
    [500, 'InternalError'],
  ])('%i %s → TransientErrorStorageUnavailable', async (status, code) => {
    const err = await openAgainst(status, code);
    expect(err).toBeInstanceOf(TransientErrorStorageUnavailable);
    expect((err as TransientErrorStorageUnavailable).details).toMatchObject({ status });
    expect(JSON.stringify((err as TransientErrorStorageUnavailable).toJSON())).not.toContain(secret);
  });
  it('403 AccessDenied → UserErrorStorageAccessDenied', async () => {
    const err = await openAgainst(403, 'AccessDenied');
    expect(err).toBeInstanceOf(UserErrorStorageAccessDenied);
    expect((err as Error).message).not.toContain(secret);
  });
});
