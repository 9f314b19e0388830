/** The Azure Blob driver on @azure/storage-blob: block blobs under a container and prefix.
 *  Owns streaming uploads (staged blocks committed at once, so readers see all or nothing), conditional
 *  puts (If-None-Match: *), ranged downloads, paged listing, and translating SDK errors at the boundary.
 *  It must never put a credential (account key, SAS signature, token) into a message, an error or its cause. */
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';
import { AnonymousCredential, ContainerClient, StorageSharedKeyCredential, type BlockBlobClient } from '@azure/storage-blob';
import { InternalErrorUnexpected, PgvaultError, UserErrorConflict, registerSecret } from '../../lib/index.ts';
import { allowSharedSignal, abortReason, bodyChunks, isBodyError } from '../body-chunks.ts';
import {
  StorageErrorAlreadyExists,
  StorageErrorNotFound,
  TransientErrorStorageUnavailable,
  UserErrorInvalidStorageUrl,
  UserErrorStorageAccessDenied,
} from '../errors.ts';
import type { ByteRange, ObjectStat, PutOptions, StorageBackend, StorageCapabilities, StorageKey } from '../storage-backend.ts';
import { checkByteRange, parseStorageKey, parseStoragePrefix } from '../storage-key.ts';
import { parseAzureBlobUrl, type AzureBlobLocation } from './azure-blob-location.ts';

export interface AzureBlobOptions {
  /** Shared-key authentication. Registered with redact() so it can never be printed. */
  accountKey?: string;
  /** A SAS query string (with or without "?"); also taken from an https URL's query. */
  sasToken?: string;
  /** An Entra ID credential; when no key, SAS or credential is given, DefaultAzureCredential is used. */
  credential?: TokenCredential;
  /** Overrides the blob endpoint of an azblob:// URL, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1. */
  endpoint?: string;
  /** Creates the container when it does not exist (restore-as-files, tests). Default false: a missing
   *  container is a configuration error, never silently an empty vault. */
  createContainer?: boolean;
  /** Block size of streamed uploads (default 4 MiB) and blocks in flight (default 4): upload memory is
   *  bounded by their product. Bodies smaller than one block go up in a single Put Blob request. */
  blockBytes?: number;
  uploadConcurrency?: number;
  /** Attempts per HTTP request inside the SDK (default 3); whole operations are retried by RetryingBackend. */
  sdkMaxTries?: number;
}

/** StorageBackend on one Azure Blob container (and an optional prefix inside it).
 *  - put(): a body smaller than one block is sent as one Put Blob; a larger one as staged blocks and one
 *    Put Block List. Either way nothing is visible until the single committing request succeeds; with
 *    ifAbsent that request carries If-None-Match: *, so the store decides atomically (409/412 →
 *    StorageErrorAlreadyExists). Uncommitted blocks of a failed or aborted put are discarded by Azure.
 *  - get(): ranged download with in-SDK resume of broken connections (maxRetryRequests).
 *  - Errors: 404 → StorageErrorNotFound (ContainerNotFound → UserErrorInvalidStorageUrl), 401/403 →
 *    UserErrorStorageAccessDenied, 408/429/5xx and network faults → TransientErrorStorageUnavailable.
 *    The SDK's RestError is never attached as cause (its request carries credentials); its status, error
 *    code and request id go into details. */
export class AzureBlobBackend implements StorageBackend {
  readonly capabilities: StorageCapabilities = { atomicPutIfAbsent: true, immutability: false, rangedReads: true };
  readonly location: string;
  readonly #container: ContainerClient;
  readonly #prefix: string;
  readonly #blockBytes: number;
  readonly #concurrency: number;

  constructor(container: ContainerClient, where: Pick<AzureBlobLocation, 'prefix' | 'display'>, opts: Pick<AzureBlobOptions, 'blockBytes' | 'uploadConcurrency'> = {}) {
    this.#container = container;
    this.#prefix = where.prefix;
    this.location = where.display;
    this.#blockBytes = opts.blockBytes ?? 4 * 1024 * 1024;
    this.#concurrency = opts.uploadConcurrency ?? 4;
  }

  /** Opens a location (see parseAzureBlobUrl) with the given credentials; checks that the container exists
   *  (or creates it when createContainer), so that a wrong location fails here and not at the first put. */
  static async open(url: string, opts: AzureBlobOptions = {}): Promise<AzureBlobBackend> {
    const loc = parseAzureBlobUrl(url, opts.endpoint === undefined ? {} : { endpoint: opts.endpoint });
    const sas = (opts.sasToken ?? loc.sasToken)?.replace(/^\?/, '');
    registerSecret(opts.accountKey);
    if (sas) {
      registerSecret(sas);
      registerSecret(new URLSearchParams(sas).get('sig'));
    }
    const containerUrl = `${loc.endpoint}/${encodeURIComponent(loc.container)}${sas ? `?${sas}` : ''}`;
    const pipelineOpts = { retryOptions: { maxTries: opts.sdkMaxTries ?? 3, retryDelayInMs: 200, maxRetryDelayInMs: 4000 } };
    let container: ContainerClient;
    if (opts.accountKey) container = new ContainerClient(containerUrl, new StorageSharedKeyCredential(loc.account, opts.accountKey), pipelineOpts);
    else if (sas) container = new ContainerClient(containerUrl, new AnonymousCredential(), pipelineOpts);
    else container = new ContainerClient(containerUrl, opts.credential ?? new DefaultAzureCredential(), pipelineOpts);
    const backend = new AzureBlobBackend(container, loc, opts);
    try {
      if (opts.createContainer) await container.createIfNotExists();
      // Listing one blob proves the container exists and the credentials can list (which a vault needs);
      // unlike Get Container Properties, it is allowed to a container SAS. ContainerNotFound is translated.
      await container.listBlobsFlat({ prefix: loc.prefix }).byPage({ maxPageSize: 1 }).next();
    } catch (err) {
      throw backend.#translate(err, '', 'open');
    }
    return backend;
  }

  #blob(key: StorageKey): BlockBlobClient {
    return this.#container.getBlockBlobClient(this.#prefix + key);
  }

  async put(key: StorageKey, body: Readable | Buffer, opts: PutOptions = {}): Promise<void> {
    const k = parseStorageKey(key);
    const blob = this.#blob(k);
    const conditions = opts.ifAbsent ? { ifNoneMatch: '*' } : {};
    const abortSignal = opts.signal;
    allowSharedSignal(abortSignal);
    let blocks: BlockReader | undefined;
    try {
      blocks = new BlockReader(bodyChunks(body, opts.signal), this.#blockBytes);
      const first = await blocks.next();
      if (blocks.ended) {
        // The whole body fits one request: Put Blob is atomic and conditional by itself.
        await blob.upload(first, first.length, { conditions, abortSignal });
        return;
      }
      // A body of several blocks that could never be committed is not worth sending: look first (the
      // conditional commit below still decides atomically).
      if (opts.ifAbsent && (await blob.exists({ abortSignal }))) throw new StorageErrorAlreadyExists(k, this.location);
      const ids: string[] = [];
      const idPrefix = randomUUID();
      const inFlight = new Set<Promise<void>>();
      let failed: unknown;
      const stage = (data: Buffer): void => {
        const id = Buffer.from(`${idPrefix}-${String(ids.length).padStart(6, '0')}`).toString('base64');
        ids.push(id);
        const p: Promise<void> = blob
          .stageBlock(id, data, data.length, { abortSignal })
          .then(() => undefined)
          .catch((err: unknown) => {
            failed ??= err;
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      };
      stage(first);
      while (!blocks.ended) {
        // Backpressure: never more than `concurrency` blocks in memory or on the wire.
        while (inFlight.size >= this.#concurrency) await Promise.race(inFlight);
        if (failed !== undefined) throw failed;
        const data = await blocks.next();
        if (data.length > 0) stage(data);
      }
      await Promise.all(inFlight);
      if (failed !== undefined) throw failed;
      if (abortSignal?.aborted) throw abortReason(abortSignal);
      await blob.commitBlockList(ids, { conditions, abortSignal });
    } catch (err) {
      // Stop reading the body (a producer waiting on it learns of the failure); blocks in flight are
      // abandoned and Azure discards uncommitted blocks.
      await blocks?.close();
      if (opts.ifAbsent && isRest(err) && err.statusCode === 400 && errorCode(err) === 'InvalidBlockList') {
        // A concurrent writer committed first, which discards our uncommitted blocks: the key exists now.
        if (await blob.exists().catch(() => false)) throw new StorageErrorAlreadyExists(k, this.location);
      }
      if (isRest(err) && errorCode(err) === 'InvalidBlockList') {
        // A concurrent writer of the same key committed and so discarded our blocks: retrying (a Buffer
        // body, by RetryingBackend) succeeds.
        throw new TransientErrorStorageUnavailable(`put "${k}" in ${this.location} failed: a concurrent writer of the same key discarded this upload's blocks`, {
          details: { status: err.statusCode, errorCode: 'InvalidBlockList' },
        });
      }
      throw this.#translate(err, k, 'put', opts.ifAbsent);
    }
  }

  async get(key: StorageKey, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const k = parseStorageKey(key);
    checkByteRange(range);
    allowSharedSignal(signal);
    const blob = this.#blob(k);
    if (range && range.length === 0) {
      await this.stat(k);
      return Readable.from([]);
    }
    try {
      const res = await blob.download(range?.offset ?? 0, range?.length, { abortSignal: signal, maxRetryRequests: 5 });
      const src = res.readableStreamBody;
      if (!src) throw new InternalErrorUnexpected(`download of "${k}" from ${this.location} returned no body`);
      return this.#translatingStream(src as Readable, k);
    } catch (err) {
      // 416: the range starts at or past the end of an existing blob; the contract returns no bytes.
      if (isRest(err) && err.statusCode === 416) return Readable.from([]);
      throw this.#translate(err, k, 'get');
    }
  }

  /** Passes the download through, turning a mid-stream SDK error into a coded one; destroying the returned
   *  stream destroys the download. */
  #translatingStream(src: Readable, key: string): Readable {
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    src.on('error', (err) => out.destroy(this.#translate(err, key, 'get')));
    out.on('close', () => {
      if (!src.destroyed) src.destroy();
    });
    src.pipe(out);
    return out;
  }

  async stat(key: StorageKey): Promise<ObjectStat> {
    const k = parseStorageKey(key);
    try {
      const p = await this.#blob(k).getProperties();
      return { sizeBytes: p.contentLength ?? 0, modifiedAt: p.lastModified ?? new Date(0) };
    } catch (err) {
      throw this.#translate(err, k, 'stat');
    }
  }

  async *list(prefix: string): AsyncIterable<StorageKey> {
    const p = parseStoragePrefix(prefix);
    const pages = this.#container.listBlobsFlat({ prefix: this.#prefix + p }).byPage({ maxPageSize: 1000 });
    for (;;) {
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        throw this.#translate(err, p, 'list');
      }
      if (page.done) return;
      for (const item of page.value.segment.blobItems) yield item.name.slice(this.#prefix.length) as StorageKey;
    }
  }

  async delete(key: StorageKey): Promise<void> {
    const k = parseStorageKey(key);
    try {
      await this.#blob(k).deleteIfExists({ deleteSnapshots: 'include' });
    } catch (err) {
      throw this.#translate(err, k, 'delete');
    }
  }

  async close(): Promise<void> {}

  /** SDK errors to coded errors, at the boundary. */
  #translate(err: unknown, key: string, verb: string, ifAbsent = false): Error {
    if (err instanceof PgvaultError) return err;
    if ((err instanceof Error && err.name === 'AbortError') || isBodyError(err)) return err as Error;
    const target = key === '' ? this.location : `"${key}" in ${this.location}`;
    if (!isRest(err)) {
      const c = (err as { code?: unknown } | undefined)?.code;
      if (typeof c === 'string' && /^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR)/.test(c)) {
        return new TransientErrorStorageUnavailable(`${verb} ${target} failed: network error ${c}`, { details: { code: c } });
      }
      return new InternalErrorUnexpected(`${verb} ${target} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    const status = err.statusCode;
    const code = errorCode(err);
    const details = { status, errorCode: code, requestId: requestId(err) };
    const what = `${verb} ${target} failed: ${status ?? err.code ?? 'no response'}${code ? ` ${code}` : ''}`;
    if (code === 'ContainerNotFound') {
      return new UserErrorInvalidStorageUrl(`${what}: the container does not exist`, { details, hint: 'Create the container first, or check the account and container names.' });
    }
    if (status === 404) return new StorageErrorNotFound(key, this.location, { details });
    if ((status === 409 || status === 412) && verb === 'put' && ifAbsent) return new StorageErrorAlreadyExists(key, this.location, { details });
    if (status === 401 || status === 403) return new UserErrorStorageAccessDenied(what, { details });
    if (status === undefined || status === 408 || status === 429 || status >= 500) return new TransientErrorStorageUnavailable(what, { details });
    if (status === 409) return new UserErrorConflict(what, { details });
    return new InternalErrorUnexpected(what, { details });
  }
}

/** Cuts a stream of chunks into blocks of exactly blockBytes (the last one shorter, possibly empty). */
class BlockReader {
  ended = false;
  #leftover: Buffer | undefined;
  constructor(
    readonly chunks: AsyncIterator<Buffer>,
    readonly blockBytes: number,
  ) {}

  /** Ends the iteration early (destroys a Readable body); never throws. */
  async close(): Promise<void> {
    await this.chunks.return?.(undefined).catch(() => undefined);
  }

  async next(): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    if (this.#leftover) {
      parts.push(this.#leftover);
      size = this.#leftover.length;
      this.#leftover = undefined;
    }
    while (size < this.blockBytes) {
      const r = await this.chunks.next();
      if (r.done) {
        this.ended = true;
        return Buffer.concat(parts, size);
      }
      parts.push(r.value);
      size += r.value.length;
    }
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    if (all.length > this.blockBytes) this.#leftover = all.subarray(this.blockBytes);
    return all.subarray(0, this.blockBytes);
  }
}

interface RestLike {
  name: 'RestError';
  statusCode?: number;
  code?: string;
  details?: unknown;
  response?: { headers?: { get(name: string): string | undefined } };
}

function isRest(err: unknown): err is RestLike {
  return err instanceof Error && err.name === 'RestError';
}

function errorCode(err: RestLike): string | undefined {
  const d = err.details as { errorCode?: unknown } | undefined;
  if (typeof d?.errorCode === 'string') return d.errorCode;
  const h = err.response?.headers?.get('x-ms-error-code');
  return h ?? (typeof err.code === 'string' ? err.code : undefined);
}

function requestId(err: RestLike): string | undefined {
  const d = err.details as Record<string, unknown> | undefined;
  const id = d?.['x-ms-request-id'] ?? d?.requestId;
  return typeof id === 'string' ? id : undefined;
}
