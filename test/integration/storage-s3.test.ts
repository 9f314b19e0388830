/** The S3 driver against s3rver (started here, stopped in afterAll): the shared conformance suite (multi-MiB
 *  bodies as multipart uploads), best-effort put-if-absent, a missing bucket, wrong credentials that never
 *  reach a message, and an unreachable endpoint. s3rver ignores If-None-Match, so the driver declares
 *  atomicPutIfAbsent false and the racers test of the suite is skipped for it. */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  S3Backend,
  StorageErrorAlreadyExists,
  TransientErrorStorageUnavailable,
  UserErrorInvalidStorageUrl,
  UserErrorStorageAccessDenied,
  openStorage,
  parseS3Url,
  type S3Options,
  type StorageKey,
} from '../../src/storage/index.ts';
import { describeStorageConformance, readAll } from '../../src/storage/testing/conformance.ts';
import { startS3rver, type S3rverHandle } from '../support/s3rver.ts';

let s3: S3rverHandle | undefined;
beforeAll(async () => {
  // The pinned SDK warns once that its future releases need Node 22; expected here, not a test finding.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  s3 = await startS3rver(['conformance', 'misc']);
});
afterAll(async () => {
  await s3?.stop();
});

const creds = (): S3Options => ({ endpoint: s3!.endpoint, region: s3!.region, accessKeyId: s3!.accessKeyId, secretAccessKey: s3!.secretAccessKey });

describeStorageConformance('s3 (s3rver, 5 MiB parts: the multi-MiB bodies go up as multipart uploads)', () =>
  S3Backend.open('s3://conformance/some/prefix', { ...creds(), partBytes: 5 * 1024 * 1024 }),
  { manyKeys: 1050 },
);

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('S3Backend specifics (s3rver)', () => {
  it('parses s3:// locations and refuses bad ones with UserErrorInvalidStorageUrl', () => {
    expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '', display: 's3://my-bucket' });
    expect(parseS3Url('s3://my-bucket/a/b/')).toEqual({ bucket: 'my-bucket', prefix: 'a/b/', display: 's3://my-bucket/a/b' });
    for (const bad of ['s3://ab', 's3://Bad_Bucket', 's3://key:secret@bucket1/x', 's3://bucket1/x?token=1', 's3://bucket1/../x', 's3://bucket1/a//b', 'gs://bucket1']) {
      expect(() => parseS3Url(bad), bad).toThrow(UserErrorInvalidStorageUrl);
    }
    let err: unknown;
    try {
      parseS3Url('s3://key:supersecretvalue@bucket1/x');
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).not.toContain('supersecretvalue');
  });

  it('declares put-if-absent as not atomic, yet refuses a put-if-absent onto an existing key', async () => {
    const b = await S3Backend.open('s3://misc/ifabsent', creds());
    expect(b.capabilities.atomicPutIfAbsent).toBe(false);
    await b.put('k' as StorageKey, Buffer.from('first'), { ifAbsent: true });
    await expect(b.put('k' as StorageKey, Buffer.from('second'), { ifAbsent: true })).rejects.toBeInstanceOf(StorageErrorAlreadyExists);
    expect((await readAll(await b.get('k' as StorageKey))).toString()).toBe('first');
    await b.close();
  });

  it('a missing bucket is UserErrorInvalidStorageUrl at open', async () => {
    const err = await failure(S3Backend.open('s3://no-such-bucket', creds()));
    expect(err).toBeInstanceOf(UserErrorInvalidStorageUrl);
    expect((err as Error).message).toContain('does not exist');
  });

  it('wrong credentials are UserErrorStorageAccessDenied and never appears in the error', async () => {
    const secret = 'wrong-secret-access-key-0123456789';
    const err = await failure(S3Backend.open('s3://misc', { ...creds(), accessKeyId: 'NOT-A-KEY', secretAccessKey: secret, sdkMaxAttempts: 1 }));
    expect(err).toBeInstanceOf(UserErrorStorageAccessDenied);
    const e = err as UserErrorStorageAccessDenied;
    expect([e.message, e.hint, JSON.stringify(e.toJSON()), String(e)].join('\n')).not.toContain(secret);
    expect(e.cause).toBeUndefined();
  });

  it('an unreachable endpoint is TransientErrorStorageUnavailable', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
      });
    });
    const err = await failure(S3Backend.open('s3://misc', { ...creds(), endpoint: `http://127.0.0.1:${port}`, sdkMaxAttempts: 1 }));
    expect(err).toBeInstanceOf(TransientErrorStorageUnavailable);
  });

  it('openStorage opens s3:// through the S3 driver', async () => {
    const b = await openStorage('s3://misc/via-open', { s3: creds() });
    expect(b.location).toBe('s3://misc/via-open');
    await b.put('a/b' as StorageKey, Buffer.from('opened'));
    expect((await readAll(await b.get('a/b' as StorageKey, { offset: 2, length: 100 }))).toString()).toBe('ened');
    await b.close();
  });
});
