/** `pgvault point undelete POINT`: bring back a soft-deleted recovery point. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(point: Command): void {
  point
    .command('undelete')
    .description("bring back a soft-deleted recovery point")
    .argument('<point>', 'recovery point id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.pointUndelete, { params: { id } }));
    });
}
