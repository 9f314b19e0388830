/** `pgvault restore-files POINT --to DIR|URL [--database NAME]… [--wait]`: writes a recovery point as standard pg_dump files
 *  (plus globals.sql for whole-server points), restorable with pg_restore and without pgvault. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { collect } from '../options.ts';
import { waitForJob } from '../wait-job.ts';

export function register(program: Command): void {
  program
    .command('restore-files')
    .description('write a recovery point as pg_dump files to a directory or a blob container')
    .argument('<point>', 'recovery point id')
    .requiredOption('--to <destination>', 'an absolute directory on the server, or a storage URL (azblob://…)')
    .option('--database <name>', 'whole-server points: only this database (repeatable; no globals.sql then)', collect, [])
    .option('--wait', 'wait for the files to be written, with progress')
    .action(async (id: string, opts: { to: string; database: string[]; wait?: boolean }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const job = await client.call(routes.restoreFiles, {
        params: { id },
        body: { destination: opts.to, ...(opts.database.length > 0 ? { databases: opts.database } : {}) },
      });
      print.record(opts.wait ? await waitForJob(client, job.id) : job);
    });
}
