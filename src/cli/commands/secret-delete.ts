/** `pgvault secret delete NAME`. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(secret: Command): void {
  secret
    .command('delete')
    .description('delete a secret')
    .argument('<name>', 'secret name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.secretDelete, { params: { name } }));
    });
}
