/** `pgvault instance resume INSTANCE`: resume protection of an instance. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(instance: Command): void {
  instance
    .command('resume')
    .description('resume protection of an instance')
    .argument('<instance>', 'instance name or id')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.instanceResume, { params: { ref } }));
    });
}
