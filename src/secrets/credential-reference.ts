/** Credential references: where a credential lives, never the credential. `secret:NAME` (pgvault's own
 *  store), `env:VAR`, `file:/abs/path`, `azure-keyvault:https://NAME.vault.azure.net/secrets/S[/version]`.
 *  Parsing is pure and strict; an error never echoes the text after the scheme (a user may have pasted a
 *  password where a reference belongs). */
import { UserErrorInvalidCredentialReference } from './secrets-errors.ts';

export type CredentialReference =
  | { kind: 'secret'; name: string }
  | { kind: 'env'; variable: string }
  | { kind: 'file'; path: string }
  | { kind: 'azure-keyvault'; vaultUrl: string; secretName: string; version?: string };

const secretNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const envPattern = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const kvSecretPattern = /^[0-9a-zA-Z-]{1,127}$/;
const kvVersionPattern = /^[0-9a-zA-Z]{1,64}$/;

const examples = 'secret:NAME, env:VAR, file:/abs/path or azure-keyvault:https://NAME.vault.azure.net/secrets/SECRET';

function invalid(message: string, hint = `Use one of: ${examples}.`): UserErrorInvalidCredentialReference {
  return new UserErrorInvalidCredentialReference(`invalid credential reference: ${message}`, { hint });
}

export function parseCredentialReference(text: unknown): CredentialReference {
  if (typeof text !== 'string' || text.length === 0) throw invalid('a reference is required');
  if (text.length > 2048 || text.includes('\0') || /[\r\n]/.test(text)) throw invalid('at most 2048 characters on one line');
  const colon = text.indexOf(':');
  const scheme = colon > 0 ? text.slice(0, colon) : '';
  const rest = colon > 0 ? text.slice(colon + 1) : '';
  switch (scheme) {
    case 'secret':
      if (!secretNamePattern.test(rest) || rest.includes('..')) {
        throw invalid('secret: needs a pgvault secret name (1–63 of letters, digits, ".", "_", "-")', 'For example secret:prod-db-password; create it with `pgvault secret set`.');
      }
      return { kind: 'secret', name: rest };
    case 'env':
      if (!envPattern.test(rest)) throw invalid('env: needs an environment variable name', 'For example env:PGVAULT_DB_PASSWORD.');
      return { kind: 'env', variable: rest };
    case 'file': {
      if (!rest.startsWith('/') || rest.split('/').some((seg) => seg === '..' || seg === '.') || rest.endsWith('/') || rest.includes('//')) {
        throw invalid('file: needs an absolute, normalised path to a file', 'For example file:/run/secrets/db-password.');
      }
      return { kind: 'file', path: rest };
    }
    case 'azure-keyvault': {
      let url: URL;
      try {
        url = new URL(rest);
      } catch {
        throw invalid('azure-keyvault: needs a secret URL', 'For example azure-keyvault:https://myvault.vault.azure.net/secrets/db-password.');
      }
      const parts = url.pathname.split('/').filter((p) => p !== '');
      if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || parts[0] !== 'secrets'
        || parts.length < 2 || parts.length > 3 || !kvSecretPattern.test(parts[1]!) || (parts[2] !== undefined && !kvVersionPattern.test(parts[2]))) {
        throw invalid('azure-keyvault: needs https://NAME.vault.azure.net/secrets/SECRET[/VERSION]',
          'For example azure-keyvault:https://myvault.vault.azure.net/secrets/db-password (optionally /VERSION).');
      }
      return {
        kind: 'azure-keyvault', vaultUrl: url.origin, secretName: parts[1]!,
        ...(parts[2] === undefined ? {} : { version: parts[2] }),
      };
    }
    default:
      throw invalid('unknown scheme (it must start with secret:, env:, file: or azure-keyvault:)');
  }
}

export function formatCredentialReference(ref: CredentialReference): string {
  switch (ref.kind) {
    case 'secret': return `secret:${ref.name}`;
    case 'env': return `env:${ref.variable}`;
    case 'file': return `file:${ref.path}`;
    case 'azure-keyvault': return `azure-keyvault:${ref.vaultUrl}/secrets/${ref.secretName}${ref.version ? `/${ref.version}` : ''}`;
  }
}
