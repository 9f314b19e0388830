/** `pgvault instance stop INSTANCE --retain|--delete-data`: stops protection, keeping or deleting the data. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { contextFor } from '../context.ts';

export function register(instance: Command): void {
  instance
    .command('stop')
    .description('stop protection of an instance; say whether its recovery points are retained or deleted')
    .argument('<instance>', 'instance name or id')
    .option('--retain', 'keep the recovery points (per their expiry)')
    .option('--delete-data', 'delete the recovery points')
    .action(async (ref: string, opts: { retain?: boolean; deleteData?: boolean }, cmd: Command) => {
      if (opts.retain === opts.deleteData) throw new UserErrorInvalidInput('give exactly one of --retain and --delete-data');
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.instanceStop, { params: { ref }, body: { mode: opts.retain ? 'retain' : 'delete' } }));
    });
}
