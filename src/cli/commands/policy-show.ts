/** `pgvault policy show POLICY`. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(policy: Command): void {
  policy
    .command('show')
    .description('show one policy')
    .argument('<policy>', 'policy id or name')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.policyShow, { params: { ref } }));
    });
}
