/** `pgvault whoami`: the token the CLI uses, its role and permissions (checks the connection too). */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(program: Command): void {
  program
    .command('whoami')
    .description('show the token in use, its role and its permissions')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.whoami));
    });
}
