/** Parses Azure Blob storage locations: `azblob://<account>/<container>[/<prefix>]` and
 *  `https://<account>.blob.core.windows.net/<container>[/<prefix>][?<SAS>]` (or a path-style
 *  `http(s)://host[:port]/<account>/<container>[/<prefix>]` for emulators, plain http only on loopback).
 *  Pure: no I/O. The SAS is returned apart and never appears in the printable location. */
import { UserErrorInvalidStorageUrl } from '../errors.ts';
import { hasDotSegment } from '../has-dot-segment.ts';
import { parseStoragePrefix } from '../storage-key.ts';

export interface AzureBlobLocation {
  account: string;
  container: string;
  /** "" or ends with "/". */
  prefix: string;
  /** The account's blob endpoint, e.g. https://acct.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1. */
  endpoint: string;
  /** The SAS query string without "?", when the URL carried one. */
  sasToken?: string;
  /** azblob://account/container/prefix: printable, without credentials. */
  display: string;
}

const accountRe = /^[a-z0-9]{3,24}$/;
const containerRe = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Throws UserErrorInvalidStorageUrl for anything that is not a usable Azure Blob location. */
export function parseAzureBlobUrl(url: string, opts: { endpoint?: string } = {}): AzureBlobLocation {
  if (hasDotSegment(url)) throw new UserErrorInvalidStorageUrl(`Azure Blob location ${JSON.stringify(url.split('?')[0])} has a "." or ".." segment`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserErrorInvalidStorageUrl(`not a URL: ${JSON.stringify(url)}`);
  }
  const shown = `${u.protocol}//${u.host}${u.pathname}`;
  if (u.username || u.password) throw new UserErrorInvalidStorageUrl(`Azure Blob location ${shown} must not carry user:password; pass the account key or SAS apart`);
  const path = u.pathname.split('/').slice(1).map(decodeURIComponent);
  let account: string;
  let rest: string[];
  let endpoint: string;
  let sasToken: string | undefined;
  if (u.protocol === 'azblob:') {
    account = u.hostname;
    rest = path;
    if (u.search) throw new UserErrorInvalidStorageUrl(`azblob:// location ${shown} takes no query; give a SAS as an https URL or as an option`);
    endpoint = opts.endpoint ?? `https://${account}.blob.core.windows.net`;
  } else if (u.protocol === 'https:' || u.protocol === 'http:') {
    if (u.protocol === 'http:' && !loopbackHosts.has(u.hostname)) {
      throw new UserErrorInvalidStorageUrl(`Azure Blob location ${shown} uses plain http on a non-loopback host`, { hint: 'Use https:// (plain http is only accepted for a local emulator on 127.0.0.1).' });
    }
    const m = /^([a-z0-9]+)\.blob\./.exec(u.hostname);
    if (m) {
      account = m[1]!;
      rest = path;
      endpoint = `${u.protocol}//${u.host}`;
    } else {
      account = path[0] ?? '';
      rest = path.slice(1);
      endpoint = `${u.protocol}//${u.host}/${account}`;
    }
    sasToken = u.search.length > 1 ? u.search.slice(1) : undefined;
  } else {
    throw new UserErrorInvalidStorageUrl(`unsupported scheme "${u.protocol}" for Azure Blob: ${shown}`);
  }
  if (!accountRe.test(account)) throw new UserErrorInvalidStorageUrl(`invalid Azure storage account name ${JSON.stringify(account)} in ${shown}`, { hint: 'An account name is 3–24 lowercase letters and digits: azblob://<account>/<container>[/<prefix>].' });
  const container = rest[0] ?? '';
  if (!containerRe.test(container)) throw new UserErrorInvalidStorageUrl(`invalid or missing container name ${JSON.stringify(container)} in ${shown}`, { hint: 'A container name is 3–63 lowercase letters, digits and single hyphens: azblob://<account>/<container>[/<prefix>].' });
  let prefix = rest.slice(1).join('/');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  try {
    parseStoragePrefix(prefix);
  } catch (err) {
    throw new UserErrorInvalidStorageUrl(`invalid prefix ${JSON.stringify(prefix)} in ${shown}`, { cause: err });
  }
  return {
    account,
    container,
    prefix,
    endpoint,
    ...(sasToken === undefined ? {} : { sasToken }),
    display: `azblob://${account}/${container}${prefix === '' ? '' : `/${prefix.slice(0, -1)}`}`,
  };
}
