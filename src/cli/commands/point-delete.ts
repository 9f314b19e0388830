/** `pgvault point delete POINT`: delete a recovery point (soft delete: recoverable for the vault's soft-delete days). */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(point: Command): void {
  point
    .command('delete')
    .description("delete a recovery point (soft delete: recoverable for the vault's soft-delete days)")
    .argument('<point>', 'recovery point id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.pointDelete, { params: { id } }));
    });
}
