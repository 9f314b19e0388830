/** Turns a storage location (URL or absolute path) into a StorageBackend: the one place that maps schemes to
 *  drivers, for the composition root. It must refuse, with UserErrorInvalidStorageUrl and a hint, anything it
 *  cannot use (unknown scheme, relative or climbing path) rather than guess, and never print credentials. */
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AzureBlobBackend, type AzureBlobOptions } from './azure-blob/azure-blob-backend.ts';
import { ReadOnlyBackend } from './decorators/read-only-backend.ts';
import { RetryingBackend, type RetryOptions } from './decorators/retrying-backend.ts';
import { UserErrorInvalidStorageUrl } from './errors.ts';
import { FilesystemBackend } from './filesystem/filesystem-backend.ts';
import { hasDotSegment } from './has-dot-segment.ts';
import { S3Backend, type S3Options } from './s3/s3-backend.ts';
import type { StorageBackend } from './storage-backend.ts';

export interface OpenStorageOptions {
  /** Credentials and settings for azblob:// and https:// (Azure Blob) locations. */
  azure?: AzureBlobOptions;
  /** Credentials and settings for s3:// locations. */
  s3?: S3Options;
  /** Wraps the driver in ReadOnlyBackend (check, restore, verify). */
  readOnly?: boolean;
  /** Retry settings for the RetryingBackend that wraps every driver; false for none. */
  retry?: RetryOptions | false;
}

/** The kind of driver a location names, without opening anything (for validation at the API). */
export function storageKindOf(url: string): 'filesystem' | 'azure-blob' | 's3' {
  if (typeof url !== 'string' || url.trim() === '') throw new UserErrorInvalidStorageUrl('the storage location is empty');
  if (url.startsWith('/')) return 'filesystem';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'file':
      return 'filesystem';
    case 'azblob':
    case 'https':
    case 'http':
      return 'azure-blob';
    case 's3':
      return 's3';
    case undefined:
      throw new UserErrorInvalidStorageUrl(`storage location ${JSON.stringify(url)} is a relative path`, {
        hint: 'Give an absolute path (/srv/pgvault/vault) or a URL: file:///srv/pgvault/vault, azblob://<account>/<container>[/<prefix>], s3://<bucket>[/<prefix>].',
      });
    default:
      throw new UserErrorInvalidStorageUrl(`unsupported storage scheme "${scheme}:" in ${JSON.stringify(url.split('?')[0])}`);
  }
}

/** The absolute directory of a file:// URL or absolute path; throws for relative, climbing or remote ones. */
export function filesystemRootOf(url: string): string {
  if (hasDotSegment(url)) throw new UserErrorInvalidStorageUrl(`storage location ${JSON.stringify(url)} has a "." or ".." segment`, { hint: 'Give the directory as a plain absolute path, without "." or ".." segments.' });
  let path: string;
  if (url.startsWith('/')) path = url;
  else {
    // The URL parser would read file:relative as file:///relative: insist on the explicit form.
    if (!/^file:\/\//i.test(url)) throw new UserErrorInvalidStorageUrl(`file URL ${JSON.stringify(url)} must be file:///absolute/path`);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new UserErrorInvalidStorageUrl(`not a URL: ${JSON.stringify(url)}`);
    }
    if (u.host !== '' && u.host !== 'localhost') throw new UserErrorInvalidStorageUrl(`file URL ${JSON.stringify(url)} names a remote host`, { hint: 'Use file:///absolute/path (three slashes); mount remote filesystems locally.' });
    if (u.search || u.hash) throw new UserErrorInvalidStorageUrl(`file URL ${JSON.stringify(url)} must not carry a query or fragment`);
    try {
      path = fileURLToPath(u);
    } catch (err) {
      throw new UserErrorInvalidStorageUrl(`invalid file URL ${JSON.stringify(url)}`, { cause: err });
    }
  }
  if (!isAbsolute(path) || path.includes('\0')) throw new UserErrorInvalidStorageUrl(`storage path ${JSON.stringify(path)} is not absolute`);
  return path;
}

/** Opens the driver a location names, wrapped in RetryingBackend (unless retry: false) and ReadOnlyBackend
 *  (when readOnly). Accepts `/abs/path`, `file:///abs/path`, `azblob://<account>/<container>[/<prefix>]`,
 *  `https://<account>.blob.core.windows.net/<container>[/<prefix>]?<SAS>` and `s3://<bucket>[/<prefix>]`.
 *  Throws UserErrorInvalidStorageUrl for anything else; driver errors (access denied, missing container or
 *  bucket, unreachable store) come from opening the driver. */
export async function openStorage(url: string, opts: OpenStorageOptions = {}): Promise<StorageBackend> {
  let backend: StorageBackend;
  switch (storageKindOf(url)) {
    case 'filesystem':
      backend = new FilesystemBackend(filesystemRootOf(url));
      break;
    case 'azure-blob':
      backend = await AzureBlobBackend.open(url, opts.azure);
      break;
    case 's3':
      backend = await S3Backend.open(url, opts.s3);
      break;
  }
  if (opts.retry !== false) backend = new RetryingBackend(backend, opts.retry ?? {});
  if (opts.readOnly) backend = new ReadOnlyBackend(backend);
  return backend;
}
