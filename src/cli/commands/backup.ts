/** `pgvault backup INSTANCE [--tag T] [--wait]`: an on-demand backup; prints the job (202), or with --wait
 *  follows it with a progress line and prints the finished job (non-zero exit if it failed). */
import { Option, type Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { waitForJob } from '../wait-job.ts';

export function register(program: Command): void {
  program
    .command('backup')
    .description('back up an instance now')
    .argument('<instance>', 'instance name or id')
    .addOption(new Option('--tag <tag>', 'retention tag of this recovery point').choices(['Default', 'Weekly', 'Monthly', 'Yearly']))
    .option('--wait', 'wait for the backup to finish, with progress')
    .action(async (ref: string, opts: { tag?: 'Default' | 'Weekly' | 'Monthly' | 'Yearly'; wait?: boolean }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const job = await client.call(routes.backupNow, { params: { ref }, body: opts.tag ? { tag: opts.tag } : {} });
      print.record(opts.wait ? await waitForJob(client, job.id) : job);
    });
}
