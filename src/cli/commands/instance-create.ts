/** `pgvault instance create NAME --vault V --policy P --server URL (--database DB | --whole-server) --credential REF`:
 *  protects a datasource; the server runs the pre-flight and refuses with its coded error and grant script. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { contextFor } from '../context.ts';
import { collect } from '../options.ts';

export function register(instance: Command): void {
  instance
    .command('create')
    .description('protect a database (or a whole server) under a policy')
    .argument('<name>', 'backup instance name')
    .requiredOption('--vault <vault>', 'vault name or id')
    .requiredOption('--policy <policy>', 'policy name (in the vault) or id')
    .requiredOption('--server <url>', 'postgresql://user@host:port — without the password')
    .option('--database <name>', 'the database to protect')
    .option('--whole-server', 'protect every database of the server plus its globals')
    .option('--exclude-database <name>', 'whole server: leave this database out (repeatable)', collect, [])
    .option('--exclude-owner <role>', 'whole server: leave out databases owned by this role (repeatable)', collect, [])
    .requiredOption('--credential <reference>', 'where the password lives: secret:NAME, env:VAR, file:/path, azure-keyvault:https://…')
    .action(async (name: string, opts: { vault: string; policy: string; server: string; database?: string; wholeServer?: boolean; excludeDatabase: string[]; excludeOwner: string[]; credential: string }, cmd: Command) => {
      if ((opts.database === undefined) === (opts.wholeServer !== true)) {
        throw new UserErrorInvalidInput('give exactly one of --database NAME and --whole-server', { hint: 'For example --database app, or --whole-server --exclude-database scratch.' });
      }
      const { client, print } = contextFor(cmd);
      const datasource = opts.wholeServer
        ? { kind: 'server' as const, serverUrl: opts.server, excludedDatabases: opts.excludeDatabase, excludedOwners: opts.excludeOwner }
        : { kind: 'database' as const, serverUrl: opts.server, databaseName: opts.database as string };
      print.record(await client.call(routes.instanceCreate, { body: { name, vault: opts.vault, policy: opts.policy, datasource, credentialReference: opts.credential } }));
    });
}
