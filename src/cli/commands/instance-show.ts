/** `pgvault instance show INSTANCE`: show one backup instance. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(instance: Command): void {
  instance
    .command('show')
    .description('show one backup instance')
    .argument('<instance>', 'instance name or id')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.instanceShow, { params: { ref } }));
    });
}
