/** Reads secrets from Azure Key Vault through the official SDK (@azure/keyvault-secrets with an
 *  @azure/identity credential). One SecretClient per vault URL is reused (tokens are cached by the SDK); the
 *  secret value is fetched afresh at every call. SDK errors are translated into coded errors that name the
 *  reference and never carry the value or a token. */
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { PgvaultError } from '../lib/index.ts';
import type { KeyVaultReader } from './resolve-credential.ts';
import { TransientErrorKeyVaultUnavailable, UserErrorCredentialAccessDenied, UserErrorCredentialEmpty, UserErrorCredentialNotFound } from './secrets-errors.ts';

export interface AzureKeyVaultReaderOptions {
  /** Defaults to DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI …). */
  credential?: TokenCredential;
  /** Passed to every SecretClient: retry options, TLS agent, disableChallengeResourceVerification (tests). */
  clientOptions?: SecretClientOptions;
}

interface SdkError {
  name?: string;
  statusCode?: number;
  code?: string;
}

function translate(err: unknown, ref: string): PgvaultError {
  if (err instanceof PgvaultError) return err;
  const e = (err ?? {}) as SdkError;
  const details = { reference: ref };
  if (e.statusCode === 404) {
    return new UserErrorCredentialNotFound(`credential reference "${ref}": the key vault has no such secret (or version)`, {
      hint: 'Check the secret name and version in the key vault.', details,
    });
  }
  if (e.statusCode === 401 || e.statusCode === 403 || e.name === 'AuthenticationError' || e.name === 'CredentialUnavailableError'
    || e.name === 'AggregateAuthenticationError' || e.name === 'AuthenticationRequiredError') {
    return new UserErrorCredentialAccessDenied(`credential reference "${ref}": the key vault refused pgvault's identity (${e.statusCode ?? e.name})`, {
      hint: 'Give the identity pgvault runs as the "Key Vault Secrets User" role (or a get-secret access policy) on this vault, and check its tenant, client id and secret.',
      details,
    });
  }
  const code = e.statusCode ? `HTTP ${e.statusCode}` : (e.code ?? e.name ?? 'unknown error');
  return new TransientErrorKeyVaultUnavailable(`credential reference "${ref}": the key vault could not be read (${code})`, {
    hint: 'Check network access to the key vault; the job is retried.', details,
  });
}

export function createAzureKeyVaultReader(opts: AzureKeyVaultReaderOptions = {}): KeyVaultReader {
  const clients = new Map<string, SecretClient>();
  let credential = opts.credential;
  const clientFor = (vaultUrl: string): SecretClient => {
    let client = clients.get(vaultUrl);
    if (!client) {
      credential ??= new DefaultAzureCredential();
      client = new SecretClient(vaultUrl, credential, opts.clientOptions);
      clients.set(vaultUrl, client);
    }
    return client;
  };
  return {
    async getSecret({ vaultUrl, secretName, version }) {
      const ref = `azure-keyvault:${vaultUrl}/secrets/${secretName}${version ? `/${version}` : ''}`;
      let value: string | undefined;
      try {
        const secret = await clientFor(vaultUrl).getSecret(secretName, version ? { version } : {});
        value = secret.value;
      } catch (err) {
        throw translate(err, ref);
      }
      if (value === undefined || value === '') {
        throw new UserErrorCredentialEmpty(`credential reference "${ref}" resolved to an empty value`, { hint: 'Store the password or connection URI in the key vault secret.', details: { reference: ref } });
      }
      return value;
    },
  };
}
