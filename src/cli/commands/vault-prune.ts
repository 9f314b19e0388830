/** `pgvault vault prune VAULT [--wait]`: remove the data of purged recovery points (two-phase, safe beside running backups), as a job. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { waitForJob } from '../wait-job.ts';

export function register(vault: Command): void {
  vault
    .command('prune')
    .description('remove the data of purged recovery points (two-phase, safe beside running backups)')
    .argument('<vault>', 'vault name or id')
    .option('--wait', 'wait for the job to finish')
    .action(async (ref: string, opts: { wait?: boolean }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const job = await client.call(routes.vaultPrune, { params: { ref }, body: {} });
      print.record(opts.wait ? await waitForJob(client, job.id) : job);
    });
}
