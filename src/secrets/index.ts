/** The secrets module: credential references (secret:, env:, file:, azure-keyvault:) resolved afresh at every
 *  use, pgvault's own secret store sealed under the master key, and the Azure Key Vault reader. Imports only
 *  lib; the catalog's secret rows arrive through the SealedSecretRows interface at the composition root. */
export * from './secrets-errors.ts';
export * from './credential-reference.ts';
export * from './master-key.ts';
export * from './secret-store.ts';
export * from './resolve-credential.ts';
export * from './azure-key-vault.ts';
