/** The service's view of storage URLs: checkStorageUrl() is the strict boundary check of API input (file:///abs/path,
 *  azblob:// or azure-blob:// or https://<account>.blob.core.windows.net/…, s3://bucket/prefix; anything else, and
 *  any path with "." or ".." segments, is refused with UserErrorInvalidStorageUrl before a byte is written), and
 *  openStorage() hands the checked URL to the storage module's factory (driver plus retrying decorator). Storage
 *  credentials come from the environment (AZURE_STORAGE_KEY, a SAS in the URL's query, the AWS SDK's default
 *  chain), never from the catalog. */
import { isAbsolute, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage as openStorageDriver, UserErrorInvalidStorageUrl, type StorageBackend } from '../storage/index.ts';

export interface OpenStorageOptions {
  env?: Record<string, string | undefined>;
  /** Creates a missing Azure container (restore-as-files targets). */
  createContainer?: boolean;
}

function hasDotSegment(path: string): boolean {
  return path.split('/').some((s) => s === '.' || s === '..' || decodeURIComponent(s) === '..' || decodeURIComponent(s) === '.');
}

/** Parses without I/O: throws UserErrorInvalidStorageUrl for unknown schemes and escaping paths. */
export function checkStorageUrl(url: string): { kind: 'file'; path: string } | { kind: 'azure'; url: string } | { kind: 's3'; url: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(url)} is not a URL`, { details: { field: 'storageUrl' } });
  }
  if (u.protocol === 'file:') {
    if (u.host !== '' && u.host !== 'localhost') {
      throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(url)} names a host; file URLs take an absolute local path (file:///srv/vault)`, { details: { field: 'storageUrl' } });
    }
    if (hasDotSegment(u.pathname) || hasDotSegment(url.replace(/^file:\/\/[^/]*/, ''))) {
      throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(url)} has "." or ".." path segments`, { details: { field: 'storageUrl' } });
    }
    if (u.search || u.hash) throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(url)} takes no query or fragment`, { details: { field: 'storageUrl' } });
    const path = fileURLToPath(u);
    if (!isAbsolute(path) || normalize(path).replace(/\/+$/, '') !== path.replace(/\/+$/, '') || path.includes('\0')) {
      throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(url)} is not a normalised absolute path`, { details: { field: 'storageUrl' } });
    }
    if (path === '/') throw new UserErrorInvalidStorageUrl('a vault cannot live at the file system root', { details: { field: 'storageUrl' } });
    return { kind: 'file', path };
  }
  if (u.protocol === 'azblob:' || u.protocol === 'azure-blob:' || u.protocol === 'https:' || u.protocol === 'http:') {
    // URL parsing normalises "a/../b" away, so look at the path as written too.
    const rawPath = (url.split(/[?#]/)[0] ?? '').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
    if (hasDotSegment(u.pathname) || hasDotSegment(rawPath)) throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(`${u.protocol}//${u.host}${u.pathname}`)} has "." or ".." path segments`, { details: { field: 'storageUrl' } });
    return { kind: 'azure', url: u.protocol === 'azure-blob:' ? url.replace(/^azure-blob:/, 'azblob:') : url };
  }
  if (u.protocol === 's3:') {
    const rawPath = (url.split(/[?#]/)[0] ?? '').replace(/^s3:\/\/[^/]*/i, '');
    if (!u.host) throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(url)} names no bucket`, { hint: 'Use s3://<bucket>[/<prefix>].', details: { field: 'storageUrl' } });
    if (hasDotSegment(u.pathname) || hasDotSegment(rawPath)) throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(`s3://${u.host}${u.pathname}`)} has "." or ".." path segments`, { details: { field: 'storageUrl' } });
    if (u.search || u.hash || u.username || u.password) throw new UserErrorInvalidStorageUrl(`storage URL ${JSON.stringify(`s3://${u.host}${u.pathname}`)} takes no credentials, query or fragment`, { hint: 'S3 credentials come from the environment (AWS_ACCESS_KEY_ID …, or an instance role).', details: { field: 'storageUrl' } });
    return { kind: 's3', url };
  }
  throw new UserErrorInvalidStorageUrl(`storage URL scheme "${u.protocol.replace(/:$/, '')}" is not supported`, {
    hint: 'Use file:///absolute/path, azblob://<account>/<container>[/<prefix>] or s3://<bucket>[/<prefix>].',
    details: { field: 'storageUrl' },
  });
}

export async function openStorage(url: string, opts: OpenStorageOptions = {}): Promise<StorageBackend> {
  const where = checkStorageUrl(url);
  const env = opts.env ?? process.env;
  if (where.kind === 'file') return openStorageDriver(where.path);
  if (where.kind === 's3') {
    return openStorageDriver(where.url, {
      s3: {
        ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
        ...(env.PGVAULT_S3_ENDPOINT ? { endpoint: env.PGVAULT_S3_ENDPOINT } : {}),
        ...(opts.createContainer ? { createBucket: true } : {}),
      },
    });
  }
  return openStorageDriver(where.url, {
    azure: {
      ...(env.AZURE_STORAGE_KEY ? { accountKey: env.AZURE_STORAGE_KEY } : {}),
      ...(env.PGVAULT_AZURE_BLOB_ENDPOINT ? { endpoint: env.PGVAULT_AZURE_BLOB_ENDPOINT } : {}),
      ...(opts.createContainer ? { createContainer: true } : {}),
    },
  });
}
