/** `pgvault vault check VAULT [--read-data] [--wait]`: verifies the vault's structure (and with --read-data,
 *  reads and authenticates every blob) as a job. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { waitForJob } from '../wait-job.ts';

export function register(vault: Command): void {
  vault
    .command('check')
    .description('verify a vault (structure; --read-data also reads and authenticates every blob)')
    .argument('<vault>', 'vault name or id')
    .option('--read-data', 'read and authenticate every blob (slow)')
    .option('--wait', 'wait for the check to finish')
    .action(async (ref: string, opts: { readData?: boolean; wait?: boolean }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const job = await client.call(routes.vaultCheck, { params: { ref }, body: opts.readData ? { readData: true } : {} });
      print.record(opts.wait ? await waitForJob(client, job.id) : job);
    });
}
