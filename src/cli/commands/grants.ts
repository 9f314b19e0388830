/** `pgvault grants ROLE --database DB … [--server-major N]`: prints the SQL that grants a role what logical
 *  backups need (run it with psql as a superuser). Plain text even with --output table, so it can be piped. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { collect, integerOption } from '../options.ts';

export function register(program: Command): void {
  program
    .command('grants')
    .description('print the privilege script for a backup role')
    .argument('<role>', 'the role pgvault connects as')
    .requiredOption('--database <name>', 'a database it backs up (repeatable)', collect, [])
    .option('--server-major <n>', 'the server major version (14+ uses pg_read_all_data)')
    .action(async (role: string, opts: { database: string[]; serverMajor?: string }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const res = await client.call(routes.grants, {
        query: { role, database: opts.database, ...(opts.serverMajor ? { serverMajor: integerOption('--server-major', opts.serverMajor) } : {}) },
      });
      if (print.mode === 'json') print.record(res);
      else process.stdout.write(res.script.endsWith('\n') ? res.script : `${res.script}\n`);
    });
}
