/** `pgvault job wait JOB`: follows a job to its end with a progress line; exits non-zero if it failed. */
import type { Command } from 'commander';
import { contextFor } from '../context.ts';
import { waitForJob } from '../wait-job.ts';

export function register(job: Command): void {
  job
    .command('wait')
    .description('wait for a job to finish, with progress')
    .argument('<job>', 'job id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await waitForJob(client, id));
    });
}
