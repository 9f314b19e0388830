/** Picks the storage driver for a vault's storage URL: file:///abs/path → FilesystemBackend, azblob:// (or
 *  azure-blob://, https://<account>.blob.core.windows.net/…) → AzureBlobBackend. Anything else, and any path
 *  with "." or ".." segments, is refused with UserErrorInvalidStorageUrl before a byte is written. Storage
 *  credentials come from the environment (AZURE_STORAGE_KEY, a SAS in the URL's query), never from the catalog. */
import { isAbsolute, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AzureBlobBackend, FilesystemBackend, UserErrorInvalidStorageUrl, type StorageBackend } from '../storage/index.ts';

export interface OpenStorageOptions {
  env?: Record<string, string | undefined>;
  /** Creates a missing Azure container (restore-as-files targets). */
  createContainer?: boolean;
}

function hasDotSegment(path: string): boolean {
  return path.split('/').some((s) => s === '.' || s === '..' || decodeURIComponent(s) === '..' || decodeURIComponent(s) === '.');
}

/** Parses without I/O: throws UserErrorInvalidStorageUrl for unknown schemes and escaping paths. */
export function checkStorageUrl(url: string): { kind: 'file'; path: string } | { kind: 'azure'; url: string } {
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
  throw new UserErrorInvalidStorageUrl(`storage URL scheme "${u.protocol.replace(/:$/, '')}" is not supported`, { details: { field: 'storageUrl' } });
}

export async function openStorage(url: string, opts: OpenStorageOptions = {}): Promise<StorageBackend> {
  const where = checkStorageUrl(url);
  if (where.kind === 'file') return new FilesystemBackend(where.path);
  const env = opts.env ?? process.env;
  return AzureBlobBackend.open(where.url, {
    ...(env.AZURE_STORAGE_KEY ? { accountKey: env.AZURE_STORAGE_KEY } : {}),
    ...(env.PGVAULT_AZURE_BLOB_ENDPOINT ? { endpoint: env.PGVAULT_AZURE_BLOB_ENDPOINT } : {}),
    ...(opts.createContainer ? { createContainer: true } : {}),
  });
}
