/** `pgvault instance suspend INSTANCE`: suspend scheduled backups of an instance (on-demand backups still run). */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(instance: Command): void {
  instance
    .command('suspend')
    .description('suspend scheduled backups of an instance (on-demand backups still run)')
    .argument('<instance>', 'instance name or id')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.instanceSuspend, { params: { ref } }));
    });
}
