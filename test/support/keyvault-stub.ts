/** A small local HTTPS stand-in for Azure Key Vault (no emulator exists): the secrets REST API
 *  (GET /secrets/{name}[/{version}]?api-version=…) behind the bearer challenge flow (401 + WWW-Authenticate),
 *  plus the Entra ID endpoints ClientSecretCredential needs (OpenID metadata, client-credentials token).
 *  The TLS certificate is self-signed per start with the machine's openssl. Test code only; it must never be
 *  reachable from anything but loopback and never log a secret value or a token. */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyVaultStubOptions {
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
}

export interface KeyVaultStubRequest {
  method: string;
  path: string;
  authorized: boolean;
  status: number;
}

export interface KeyVaultStub {
  /** https://127.0.0.1:PORT — the vault URL and the authority host at once. */
  readonly url: string;
  /** PEM of the self-signed certificate, to trust it in the client (never disable TLS verification). */
  readonly ca: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Sets a new version of a secret and returns its version id; the newest version is the default. */
  setSecret(name: string, value: string): string;
  deleteSecret(name: string): void;
  /** Tokens issued so far (a rotation test can revoke them). */
  revokeTokens(): void;
  readonly requests: KeyVaultStubRequest[];
  stop(): Promise<void>;
}

const secretNamePattern = /^[0-9a-zA-Z-]{1,127}$/;

export async function startKeyVaultStub(opts: KeyVaultStubOptions = {}): Promise<KeyVaultStub> {
  const tenantId = opts.tenantId ?? randomUUID();
  const clientId = opts.clientId ?? randomUUID();
  const clientSecret = opts.clientSecret ?? randomBytes(18).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'pgvault-kv-stub-'));
  let key: string;
  let cert: string;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const secrets = new Map<string, { versions: { id: string; value: string; created: number }[] }>();
  const tokens = new Set<string>();
  const requests: KeyVaultStubRequest[] = [];
  let base = '';

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const readBody = (req: IncomingMessage): Promise<string> => new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { data += d; if (data.length > 65536) req.destroy(); });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', base);
    const parts = url.pathname.split('/').filter(Boolean);
    // Entra ID: OpenID metadata and the token endpoint, for ClientSecretCredential with authorityHost = base.
    if (parts[0] === tenantId && parts[1] === 'v2.0' && parts[2] === '.well-known' && parts[3] === 'openid-configuration') {
      send(res, 200, {
        token_endpoint: `${base}/${tenantId}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/${tenantId}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${base}/${tenantId}/oauth2/v2.0/logout`,
        issuer: `${base}/${tenantId}/v2.0`,
        jwks_uri: `${base}/${tenantId}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid'],
      });
      return 200;
    }
    if (req.method === 'POST' && parts[0] === tenantId && parts.slice(1).join('/') === 'oauth2/v2.0/token') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('grant_type') !== 'client_credentials' || form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
        send(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
        return 401;
      }
      const token = randomBytes(24).toString('base64url');
      tokens.add(token);
      send(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
      return 200;
    }
    // Key Vault secrets API.
    if (parts[0] === 'secrets' && (parts.length === 2 || parts.length === 3) && req.method === 'GET') {
      if (!url.searchParams.get('api-version')) {
        send(res, 400, { error: { code: 'MissingApiVersionParameter', message: 'The api-version query parameter is required.' } });
        return 400;
      }
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!tokens.has(token)) {
        send(res, 401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, {
          'www-authenticate': `Bearer authorization="${base}/${tenantId}", resource="https://vault.azure.net"`,
        });
        return 401;
      }
      const name = parts[1]!;
      const entry = secretNamePattern.test(name) ? secrets.get(name) : undefined;
      const version = parts[2] ? entry?.versions.find((v) => v.id === parts[2]) : entry?.versions[entry.versions.length - 1];
      if (!version) {
        send(res, 404, { error: { code: 'SecretNotFound', message: `A secret with (name/id) ${name} was not found in this key vault.` } });
        return 404;
      }
      const created = Math.floor(version.created / 1000);
      send(res, 200, {
        value: version.value,
        id: `${base}/secrets/${name}/${version.id}`,
        attributes: { enabled: true, created, updated: created, recoveryLevel: 'Recoverable+Purgeable' },
        tags: {},
      });
      return 200;
    }
    send(res, 404, { error: { code: 'NotFound', message: 'not served by the stub' } });
    return 404;
  };

  const server = createHttpsServer({ key, cert }, (req, res) => {
    const authorized = (req.headers.authorization ?? '').startsWith('Bearer ');
    handle(req, res).then(
      (status) => requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, authorized, status }),
      () => { if (!res.headersSent) send(res, 500, { error: { code: 'InternalError', message: 'stub failure' } }); },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('key vault stub: no TCP address');
  base = `https://127.0.0.1:${addr.port}`;

  return {
    url: base,
    ca: cert,
    tenantId,
    clientId,
    clientSecret,
    setSecret(name, value) {
      if (!secretNamePattern.test(name)) throw new Error(`key vault stub: invalid secret name "${name}"`);
      const id = randomBytes(16).toString('hex');
      const entry = secrets.get(name) ?? { versions: [] };
      entry.versions.push({ id, value, created: Date.now() });
      secrets.set(name, entry);
      return id;
    },
    deleteSecret(name) {
      secrets.delete(name);
    },
    revokeTokens() {
      tokens.clear();
    },
    requests,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
