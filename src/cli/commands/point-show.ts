/** `pgvault point show POINT`. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(point: Command): void {
  point
    .command('show')
    .description('show one recovery point with its entries and their SHA-256')
    .argument('<point>', 'recovery point id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      print.record(await client.call(routes.pointShow, { params: { id } }));
    });
}
