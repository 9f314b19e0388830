/** `pgvault job show JOB [--log]`. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(job: Command): void {
  job
    .command('show')
    .description('show one job: state, progress, figures, error')
    .argument('<job>', 'job id')
    .option('--log', 'print its log lines too')
    .action(async (id: string, opts: { log?: boolean }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const job = await client.call(routes.jobShow, { params: { id } });
      if (!opts.log) return print.record(job);
      const { lines } = await client.call(routes.jobLog, { params: { id } });
      if (print.mode === 'json') return print.record({ ...job, log: lines });
      print.record(job);
      for (const l of lines) process.stdout.write(`${l.at}  ${l.level.padEnd(5)}  ${l.message}\n`);
    });
}
