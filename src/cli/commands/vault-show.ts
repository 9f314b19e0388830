/** `pgvault vault show NAME`. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(vault: Command): void {
  vault
    .command('show')
    .description('show one vault')
    .argument('<vault>', 'vault name or id')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.vaultShow, { params: { ref } }));
    });
}
