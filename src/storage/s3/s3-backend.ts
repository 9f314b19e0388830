/** The S3 driver on @aws-sdk/client-s3 (+ lib-storage for streamed multipart uploads): objects under a
 *  bucket and prefix, `s3://<bucket>[/<prefix>]`. Owns uploads (single PutObject or multipart completed at
 *  once), ranged GETs, paged listing and translating SDK errors at the boundary. It must never put a
 *  credential (secret key, session token) into a message, an error or its cause. */
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InternalErrorUnexpected, PgvaultError, registerSecret } from '../../lib/index.ts';
import { allowSharedSignal, abortReason, bodyChunks, isBodyError } from '../body-chunks.ts';
import {
  StorageErrorAlreadyExists,
  StorageErrorNotFound,
  TransientErrorStorageUnavailable,
  UserErrorInvalidStorageUrl,
  UserErrorStorageAccessDenied,
} from '../errors.ts';
import { hasDotSegment } from '../has-dot-segment.ts';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';
import { checkByteRange, parseStorageKey, parseStoragePrefix } from '../storage-key.ts';

export interface S3Options {
  region?: string;
  /** A custom endpoint (MinIO, s3rver, another cloud); implies path-style addressing unless forcePathStyle is false. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Static credentials; registered with redact(). Without them the SDK's default chain is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Creates the bucket when it does not exist (tests). Default false: a missing bucket is a configuration error. */
  createBucket?: boolean;
  /** Declare that the store enforces If-None-Match: * atomically (AWS S3 does since 2024; s3rver and some
   *  S3-compatible stores silently ignore it). Default false. */
  atomicPutIfAbsent?: boolean;
  /** Multipart part size (default 8 MiB, minimum 5 MiB) and parts in flight (default 4). */
  partBytes?: number;
  uploadConcurrency?: number;
  /** Attempts per HTTP request inside the SDK (default 3). */
  sdkMaxAttempts?: number;
}

export interface S3Location {
  bucket: string;
  /** "" or ends with "/". */
  prefix: string;
  display: string;
}

const bucketRe = /^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$/;

/** Parses `s3://<bucket>[/<prefix>]`; throws UserErrorInvalidStorageUrl. Credentials never go in the URL. */
export function parseS3Url(url: string): S3Location {
  if (hasDotSegment(url)) throw new UserErrorInvalidStorageUrl(`S3 location ${JSON.stringify(url.split('?')[0])} has a "." or ".." segment`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserErrorInvalidStorageUrl(`not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 's3:') throw new UserErrorInvalidStorageUrl(`unsupported scheme "${u.protocol}" for S3`);
  if (u.username || u.password || u.search) {
    throw new UserErrorInvalidStorageUrl(`S3 location s3://${u.hostname}${u.pathname} must not carry credentials or a query; pass them as options or through the AWS environment`);
  }
  const bucket = u.hostname;
  if (!bucketRe.test(bucket) || bucket.includes('..')) {
    throw new UserErrorInvalidStorageUrl(`invalid S3 bucket name ${JSON.stringify(bucket)}`, { hint: 'A bucket name is 3–63 lowercase letters, digits, dots and hyphens: s3://<bucket>[/<prefix>].' });
  }
  let prefix = u.pathname.split('/').slice(1).map(decodeURIComponent).join('/');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  try {
    parseStoragePrefix(prefix);
  } catch (err) {
    throw new UserErrorInvalidStorageUrl(`invalid prefix ${JSON.stringify(prefix)} in s3://${bucket}`, { cause: err });
  }
  return { bucket, prefix, display: `s3://${bucket}${prefix === '' ? '' : `/${prefix.slice(0, -1)}`}` };
}

/** StorageBackend on an S3 bucket (and an optional prefix).
 *  - put(): lib-storage's Upload: one PutObject below one part, else a multipart upload completed in one
 *    request (nothing visible before; a failed or aborted upload is aborted, leaving nothing).
 *  - put({ ifAbsent }): best effort, NOT atomic by default (capabilities.atomicPutIfAbsent false): a HEAD
 *    first (exists → StorageErrorAlreadyExists), then the upload carries If-None-Match: *, which AWS S3
 *    enforces (412 → StorageErrorAlreadyExists). On a store that ignores the header (s3rver, some
 *    S3-compatible servers) two racers that both pass the HEAD both write and the later one wins: the vault
 *    must not rely on ifAbsent for mutual exclusion there (its objects are content-named, so that race is
 *    harmless for packs). Set atomicPutIfAbsent: true only for a store known to enforce it.
 *  - Errors: NoSuchKey/404 → StorageErrorNotFound, NoSuchBucket → UserErrorInvalidStorageUrl,
 *    401/403 → UserErrorStorageAccessDenied, throttling/5xx/network → TransientErrorStorageUnavailable.
 *    The SDK error is never attached as cause; name, status and request id go into details. */
export class S3Backend implements StorageBackend {
  readonly capabilities: StorageCapabilities;
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partBytes: number;
  readonly #concurrency: number;

  constructor(client: S3Client, where: S3Location, opts: Pick<S3Options, 'atomicPutIfAbsent' | 'partBytes' | 'uploadConcurrency'> = {}) {
    this.#client = client;
    this.#bucket = where.bucket;
    this.#prefix = where.prefix;
    this.location = where.display;
    this.capabilities = { atomicPutIfAbsent: opts.atomicPutIfAbsent ?? false, immutability: false, rangedReads: true };
    this.#partBytes = Math.max(5 * 1024 * 1024, opts.partBytes ?? 8 * 1024 * 1024);
    this.#concurrency = opts.uploadConcurrency ?? 4;
  }

  /** Opens `s3://bucket/prefix`; checks (or creates, with createBucket) the bucket by listing one key. */
  static async open(url: string, opts: S3Options = {}): Promise<S3Backend> {
    const loc = parseS3Url(url);
    registerSecret(opts.secretAccessKey);
    registerSecret(opts.sessionToken);
    const config: S3ClientConfig = {
      region: opts.region ?? process.env['AWS_REGION'] ?? 'us-east-1',
      maxAttempts: opts.sdkMaxAttempts ?? 3,
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: opts.forcePathStyle ?? true } : opts.forcePathStyle === undefined ? {} : { forcePathStyle: opts.forcePathStyle }),
      ...(opts.accessKeyId && opts.secretAccessKey
        ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey, ...(opts.sessionToken ? { sessionToken: opts.sessionToken } : {}) } }
        : {}),
    };
    const client = new S3Client(config);
    const backend = new S3Backend(client, loc, opts);
    try {
      if (opts.createBucket) {
        await client.send(new CreateBucketCommand({ Bucket: loc.bucket })).catch((err: unknown) => {
          const name = (err as { name?: string }).name;
          if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
        });
      }
      await client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.prefix, MaxKeys: 1 }));
    } catch (err) {
      client.destroy();
      throw backend.#translate(err, '', 'open');
    }
    return backend;
  }

  async put(key: StorageKey, body: Readable | Buffer, opts: PutOptions = {}): Promise<void> {
    const k = parseStorageKey(key);
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    allowSharedSignal(opts.signal);
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (opts.ifAbsent && (await this.#exists(k))) {
        if (!Buffer.isBuffer(body)) body.destroy();
        throw new StorageErrorAlreadyExists(k, this.location);
      }
      const upload = new Upload({
        client: this.#client,
        params: {
          Bucket: this.#bucket,
          Key: this.#prefix + k,
          Body: Buffer.isBuffer(body) ? body : Readable.from(bodyChunks(body, opts.signal)),
          ...(opts.ifAbsent ? { IfNoneMatch: '*' } : {}),
        },
        partSize: this.#partBytes,
        queueSize: this.#concurrency,
        leavePartsOnError: false,
        abortController: ac,
      });
      await upload.done();
    } catch (err) {
      if (opts.signal?.aborted && !(err instanceof PgvaultError)) throw abortReason(opts.signal);
      throw this.#translate(err, k, 'put', opts.ifAbsent);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async #exists(k: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + k }));
      return true;
    } catch (err) {
      const e = this.#translate(err, k, 'stat');
      if (e instanceof StorageErrorNotFound) return false;
      throw e;
    }
  }

  async get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const k = parseStorageKey(key);
    checkByteRange(range);
    allowSharedSignal(signal);
    if (range && range.length === 0) {
      await this.stat(k);
      return Readable.from([]);
    }
    try {
      const res = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#prefix + k,
          ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
        }),
        signal ? { abortSignal: signal } : {},
      );
      const src = res.Body;
      if (!(src instanceof Readable)) throw new InternalErrorUnexpected(`GET "${k}" from ${this.location} returned no Node stream`);
      src.on('error', () => undefined); // errors are re-raised, translated, by the wrapper below
      return Readable.from(this.#translated(src, k));
    } catch (err) {
      // 416: the range starts at or past the end of an existing object; the contract returns no bytes.
      if (status(err) === 416) return Readable.from([]);
      throw this.#translate(err, k, 'get');
    }
  }

  async *#translated(src: Readable, key: string): AsyncGenerator<Buffer> {
    try {
      for await (const c of src) yield Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    } catch (err) {
      throw this.#translate(err, key, 'get');
    } finally {
      src.destroy();
    }
  }

  async stat(key: StorageKey): Promise<ObjectStat> {
    const k = parseStorageKey(key);
    try {
      const h = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + k }));
      return { sizeBytes: h.ContentLength ?? 0, modifiedAt: h.LastModified ?? new Date(0) };
    } catch (err) {
      throw this.#translate(err, k, 'stat');
    }
  }

  async *list(prefix: string): AsyncIterable<StorageKey> {
    const p = parseStoragePrefix(prefix);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix + p, MaxKeys: 1000, ...(token ? { ContinuationToken: token } : {}) }),
        );
      } catch (err) {
        throw this.#translate(err, p, 'list');
      }
      for (const o of page.Contents ?? []) if (o.Key !== undefined) yield o.Key.slice(this.#prefix.length) as StorageKey;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: StorageKey): Promise<void> {
    const k = parseStorageKey(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + k }));
    } catch (err) {
      const e = this.#translate(err, k, 'delete');
      if (e instanceof StorageErrorNotFound) return;
      throw e;
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  /** SDK errors to coded errors, at the boundary. */
  #translate(err: unknown, key: string, verb: string, ifAbsent = false): Error {
    if (err instanceof PgvaultError) return err;
    if ((err instanceof Error && err.name === 'AbortError') || isBodyError(err)) return err as Error;
    const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
    const st = status(err);
    const name = e.name ?? 'Error';
    const target = key === '' ? this.location : `"${key}" in ${this.location}`;
    const details = { status: st, errorCode: name, requestId: e.$metadata?.requestId };
    const what = `${verb} ${target} failed: ${st ?? 'no response'} ${name}`;
    if (name === 'NoSuchBucket') return new UserErrorInvalidStorageUrl(`${what}: the bucket does not exist`, { details, hint: 'Create the bucket first, or check its name and region.' });
    if (name === 'NoSuchKey' || name === 'NotFound' || st === 404) return new StorageErrorNotFound(key, this.location, { details });
    if (verb === 'put' && ifAbsent && (st === 412 || st === 409)) return new StorageErrorAlreadyExists(key, this.location, { details });
    if (st === 401 || st === 403) return new UserErrorStorageAccessDenied(what, { details });
    const networkCode = typeof e.code === 'string' && /^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)/.test(e.code);
    if (networkCode || name === 'TimeoutError' || name === 'SlowDown' || name === 'RequestTimeout' || st === 408 || st === 429 || (st !== undefined && st >= 500)) {
      return new TransientErrorStorageUnavailable(networkCode ? `${verb} ${target} failed: network error ${e.code}` : what, { details });
    }
    if (st === undefined && /ECONNREFUSED|ECONNRESET|socket hang up/.test(err instanceof Error ? err.message : '')) {
      return new TransientErrorStorageUnavailable(`${verb} ${target} failed: network error`, { details });
    }
    return new InternalErrorUnexpected(what, { details });
  }
}

function status(err: unknown): number | undefined {
  const s = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}
