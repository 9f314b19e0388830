/** Resolves a credential reference to what a connection needs: a password, or a full connection URI when the
 *  stored value is one (postgresql://…). Resolved afresh at every call (no cache: a rotated password is used
 *  at the next job); every value is registered with registerSecret() before it leaves this function. Errors
 *  name the reference, never the value. file: references must be regular files that other users cannot read
 *  or write (refused, not warned: a world-readable password file is already a leak). */
import { open } from 'node:fs/promises';
import { registerSecret } from '../lib/index.ts';
import { formatCredentialReference, parseCredentialReference, type CredentialReference } from './credential-reference.ts';
import {
  UserErrorCredentialAccessDenied, UserErrorCredentialEmpty, UserErrorCredentialFileUnsafe, UserErrorCredentialNotFound,
  UserErrorInvalidCredentialReference,
} from './secrets-errors.ts';

/** Exactly one of the two is set. */
export interface ResolvedCredential {
  password?: string;
  uri?: string;
}

/** pgvault's own store (SecretStore satisfies it): undefined when the secret does not exist. */
export interface SecretReader {
  get(name: string): Promise<string | undefined>;
}

/** Reads one secret from Azure Key Vault; throws UserErrorCredentialNotFound / UserErrorCredentialAccessDenied /
 *  TransientErrorKeyVaultUnavailable. */
export interface KeyVaultReader {
  getSecret(ref: { vaultUrl: string; secretName: string; version?: string }): Promise<string>;
}

export interface ResolveCredentialDeps {
  secretStore?: SecretReader;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  keyVault?: KeyVaultReader;
}

export const maxCredentialFileBytes = 64 * 1024;

function notFound(ref: string, what: string, hint: string): UserErrorCredentialNotFound {
  return new UserErrorCredentialNotFound(`credential reference "${ref}": ${what}`, { hint, details: { reference: ref } });
}

function classify(ref: string, value: string): ResolvedCredential {
  if (value.length === 0) {
    throw new UserErrorCredentialEmpty(`credential reference "${ref}" resolved to an empty value`, {
      hint: 'Store the password, or a full postgresql:// connection URI, at that reference.', details: { reference: ref },
    });
  }
  registerSecret(value);
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new UserErrorInvalidCredentialReference(`credential reference "${ref}" holds a connection URI that does not parse`, {
        hint: 'Store a valid postgresql://user:password@host:port/db URI, or just the password.', details: { reference: ref },
      });
    }
    if (url.password) registerSecret(decodeURIComponent(url.password));
    return { uri: value };
  }
  return { password: value };
}

async function readCredentialFile(ref: string, path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(ref, 'the file does not exist', 'Check the path; it must be absolute and readable by the pgvault process.');
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UserErrorCredentialAccessDenied(`credential reference "${ref}": pgvault may not read the file`, {
        hint: 'Make the file readable by the user pgvault runs as (and by no one else: chmod 600).', details: { reference: ref },
      });
    }
    throw err;
  }
  try {
    // fstat on the open descriptor: the checks apply to the very file we read (symlinks are followed).
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new UserErrorCredentialFileUnsafe(`credential reference "${ref}" is not a regular file`, {
        hint: 'Point file: at a regular file holding only the password or connection URI.', details: { reference: ref },
      });
    }
    if ((st.mode & 0o007) !== 0) {
      throw new UserErrorCredentialFileUnsafe(`credential reference "${ref}": other users may access the file (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `Run: chmod o-rwx ${path} (600 or 640 is fine); for a Kubernetes secret volume set defaultMode: 0400.`, details: { reference: ref },
      });
    }
    if (st.size > maxCredentialFileBytes) {
      throw new UserErrorCredentialFileUnsafe(`credential reference "${ref}": the file is larger than ${maxCredentialFileBytes / 1024} KiB`, {
        hint: 'The file must hold only the password or connection URI.', details: { reference: ref },
      });
    }
    const text = (await handle.readFile({ encoding: 'utf8' }));
    // One trailing newline is how editors and `echo` end files; it is never part of a password.
    return text.replace(/\r?\n$/, '');
  } finally {
    await handle.close();
  }
}

/** Resolves `ref` now. Throws UserErrorInvalidCredentialReference for a malformed reference and the coded
 *  errors of secrets-errors.ts for one that cannot be resolved. */
export async function resolveCredential(ref: string | CredentialReference, deps: ResolveCredentialDeps = {}): Promise<ResolvedCredential> {
  const parsed = typeof ref === 'string' ? parseCredentialReference(ref) : ref;
  const text = formatCredentialReference(parsed);
  switch (parsed.kind) {
    case 'secret': {
      if (!deps.secretStore) throw new UserErrorInvalidCredentialReference(`credential reference "${text}": no pgvault secret store is available here`, { hint: 'Resolve secret: references inside `pgvault serve`.' });
      const value = await deps.secretStore.get(parsed.name);
      if (value === undefined) throw notFound(text, 'no pgvault secret has that name', `Create it with \`pgvault secret set ${parsed.name}\`, or list them with \`pgvault secret list\`.`);
      return classify(text, value);
    }
    case 'env': {
      const value = (deps.env ?? process.env)[parsed.variable];
      if (value === undefined) throw notFound(text, 'the environment variable is not set', `Set ${parsed.variable} in the environment of \`pgvault serve\`.`);
      return classify(text, value);
    }
    case 'file':
      return classify(text, await readCredentialFile(text, parsed.path));
    case 'azure-keyvault': {
      if (!deps.keyVault) throw new UserErrorInvalidCredentialReference(`credential reference "${text}": Azure Key Vault is not configured here`, { hint: 'Configure an Azure identity for `pgvault serve`.' });
      const { vaultUrl, secretName, version } = parsed;
      return classify(text, await deps.keyVault.getSecret({ vaultUrl, secretName, ...(version ? { version } : {}) }));
    }
  }
}
