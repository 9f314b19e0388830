/** `pgvault token create NAME --role ROLE`: creates an API token and prints its secret once. */
import type { Command } from 'commander';
import { isRole, roles, routes } from '../../api/contract/index.ts';
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { contextFor } from '../context.ts';

export function register(token: Command): void {
  token
    .command('create')
    .description('create an API token; its secret is printed once and cannot be shown again')
    .argument('<name>', 'a name for the token (who or what uses it)')
    .requiredOption('--role <role>', `one of ${roles.join(', ')}`)
    .action(async (name: string, opts: { role: string }, cmd: Command) => {
      if (!isRole(opts.role)) {
        throw new UserErrorInvalidInput(`--role "${opts.role}" is not a role`, { hint: `Use one of ${roles.join(', ')}.` });
      }
      const { client, print } = contextFor(cmd);
      const created = await client.call(routes.tokenCreate, { body: { name, role: opts.role } });
      print.record(created);
      print.note('Store the token now: it is shown only once. Use it with PGVAULT_TOKEN=<token>.');
    });
}
