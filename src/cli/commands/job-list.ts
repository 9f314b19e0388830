/** `pgvault job list [--vault V] [--instance I] [--type T] [--state S] [--since T] [--until T] [--limit N]`. */
import { Option, type Command } from 'commander';
import { routes, type Job } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { integerOption } from '../options.ts';

export function register(job: Command): void {
  job
    .command('list')
    .description('list jobs, newest first')
    .option('--vault <vault>', 'only this vault')
    .option('--instance <instance>', 'only this backup instance')
    .addOption(new Option('--type <type>').choices(['backup', 'restore', 'restore-files', 'retention', 'prune', 'check', 'verify']))
    .addOption(new Option('--state <state>').choices(['queued', 'running', 'succeeded', 'failed', 'cancelled']))
    .option('--since <time>', 'created at or after (ISO 8601)')
    .option('--until <time>', 'created at or before (ISO 8601)')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--cursor <cursor>', 'continue after a previous page (json output gives nextCursor)')
    .action(async (opts: { vault?: string; instance?: string; type?: string; state?: string; since?: string; until?: string; limit?: string; cursor?: string }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const query = {
        ...(opts.vault ? { vault: opts.vault } : {}),
        ...(opts.instance ? { instance: opts.instance } : {}),
        ...(opts.type ? { type: opts.type } : {}),
        ...(opts.state ? { state: opts.state } : {}),
        ...(opts.since ? { since: opts.since } : {}),
        ...(opts.until ? { until: opts.until } : {}),
        ...(opts.limit ? { limit: integerOption('--limit', opts.limit) } : {}),
        ...(opts.cursor ? { cursor: opts.cursor } : {}),
      };
      const page = await client.call(routes.jobList, { query: query as never });
      print.list(page, page.items, [
        { header: 'id', value: (j: Job) => j.id },
        { header: 'type', value: (j: Job) => j.type },
        { header: 'state', value: (j: Job) => j.state },
        { header: 'created', value: (j: Job) => j.createdAt },
        { header: 'finished', value: (j: Job) => j.finishedAt },
        { header: 'error', value: (j: Job) => j.error?.code ?? null },
      ]);
      if (page.nextCursor) print.note(`more: --cursor ${page.nextCursor}`);
    });
}
