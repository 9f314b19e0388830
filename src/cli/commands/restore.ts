/** `pgvault restore POINT --target URL --credential REF --database NAME [--jobs N [--spool]] [--schema S]…
 *  [--table T]… [--replace] [--wait]`: restores a recovery point as a new database on any server (a newer major
 *  too), serially or with N parallel workers, whole or only chosen schemas and tables. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { collect, integerOption } from '../options.ts';
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
    .option('--jobs <n>', 'parallel workers, as pg_restore -j (straight from the vault)')
    .option('--spool', 'with --jobs: write the archive to a local temp file first, then plain pg_restore -j')
    .option('--schema <name>', 'restore only this schema, whole (repeatable)', collect, [])
    .option('--table <schema.table>', 'restore only this table with its sequences, indexes and grants (repeatable; public when no schema)', collect, [])
    .option('--create-roles', "whole-server points: first create the roles the target lacks (without passwords)")
    .option('--privileged-roles', 'with --create-roles, as a superuser: also give SUPERUSER, REPLICATION, BYPASSRLS and server-side role memberships')
    .option('--no-tablespaces', "every object in the new database's default tablespace (the target lacks the point's tablespaces)")
    .option('--replace', 'drop an existing database of that name first')
    .option('--wait', 'wait for the restore to finish, with progress')
    .action(async (id: string, opts: RestoreOptions, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const job = await client.call(routes.restore, {
        params: { id },
        body: {
          targetServerUrl: opts.target,
          credentialReference: opts.credential,
          database: opts.database,
          ...(opts.entry ? { entry: opts.entry } : {}),
          ...(opts.replace ? { replace: true } : {}),
          ...(opts.jobs !== undefined ? { jobs: integerOption('--jobs', opts.jobs) } : {}),
          ...(opts.spool ? { spool: true } : {}),
          ...(opts.createRoles ? { createRoles: true } : {}),
          ...(opts.privilegedRoles ? { privilegedRoles: true } : {}),
          ...(opts.tablespaces === false ? { noTablespaces: true } : {}),
          ...(opts.schema.length > 0 ? { schemas: opts.schema } : {}),
          ...(opts.table.length > 0 ? { tables: opts.table } : {}),
        },
      });
      print.record(opts.wait ? await waitForJob(client, job.id) : job);
    });
}

interface RestoreOptions {
  target: string;
  credential: string;
  database: string;
  entry?: string;
  replace?: boolean;
  wait?: boolean;
  jobs?: string;
  spool?: boolean;
  createRoles?: boolean;
  privilegedRoles?: boolean;
  /** commander's --no-tablespaces sets this false. */
  tablespaces?: boolean;
  schema: string[];
  table: string[];
}
