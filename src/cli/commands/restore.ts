/** `pgvault restore POINT --target URL --credential REF --database NAME [--replace] [--wait]`: restores a
 *  recovery point as a new database on any server (a newer major too). */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { waitForJob } from '../wait-job.ts';

export function register(program: Command): void {
  program
    .command('restore')
    .description('restore a recovery point as a new database')
    .argument('<point>', 'recovery point id')
    .requiredOption('--target <url>', 'target server: postgresql://user@host:port — without the password')
    .requiredOption('--credential <reference>', "the target role's password: secret:NAME, env:VAR, file:/path …")
    .requiredOption('--database <name>', 'name of the new database')
    .option('--entry <database>', 'whole-server points: which database to restore')
    .option('--replace', 'drop an existing database of that name first')
    .option('--wait', 'wait for the restore to finish, with progress')
    .action(async (id: string, opts: { target: string; credential: string; database: string; entry?: string; replace?: boolean; wait?: boolean }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const job = await client.call(routes.restore, {
        params: { id },
        body: { targetServerUrl: opts.target, credentialReference: opts.credential, database: opts.database, ...(opts.entry ? { entry: opts.entry } : {}), ...(opts.replace ? { replace: true } : {}) },
      });
      print.record(opts.wait ? await waitForJob(client, job.id) : job);
    });
}
