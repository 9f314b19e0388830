/** Builds a PostgreSQL connection config from a server URL (never holding a password) and a credential
 *  reference resolved afresh at every use: the secret is either a password or a full connection URI. */
import { parsePgUrl, withDatabase, type PgConnectionConfig } from '../postgres/index.ts';
import { resolveCredential, type SecretReader } from '../secrets/index.ts';

export async function connectionFor(serverUrl: string, credentialReference: string, secrets: SecretReader, database?: string): Promise<PgConnectionConfig> {
  const c = await resolveCredential(credentialReference, { secretStore: secrets });
  const base = c.uri ? parsePgUrl(c.uri) : { ...parsePgUrl(serverUrl), password: c.password as string };
  return database === undefined ? base : withDatabase(base, database);
}
