/** `pgvault token revoke ID`: revokes an API token at once. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(token: Command): void {
  token
    .command('revoke')
    .description('revoke an API token; calls with it fail from now on')
    .argument('<id>', 'the token id (the part after pgv_, as `token list` shows it)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.tokenRevoke, { params: { id } }));
    });
}
