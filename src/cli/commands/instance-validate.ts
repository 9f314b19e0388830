/** `pgvault instance validate INSTANCE`: runs the pre-flight again (connection, versions, privileges); a
 *  missing grant fails with its code and the SQL that fixes it. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(instance: Command): void {
  instance
    .command('validate')
    .description('check that an instance can be backed up: connection, versions, privileges')
    .argument('<instance>', 'instance name or id')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.instanceValidate, { params: { ref } }));
    });
}
