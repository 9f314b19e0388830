/** `pgvault point list [--vault V] [--instance I]`: recovery points, newest first. */
import type { Command } from 'commander';
import { routes, type RecoveryPoint } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { allPages } from '../paging.ts';

export function register(point: Command): void {
  point
    .command('list')
    .description('list recovery points')
    .option('--vault <vault>', 'only this vault')
    .option('--instance <instance>', 'only this backup instance')
    .action(async (opts: { vault?: string; instance?: string }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const items = await allPages<RecoveryPoint>((cursor) =>
        client.call(routes.pointList, { query: { limit: 500, ...(opts.vault ? { vault: opts.vault } : {}), ...(opts.instance ? { instance: opts.instance } : {}), ...(cursor ? { cursor } : {}) } }),
      );
      print.list({ items }, items, [
        { header: 'id', value: (p) => p.id },
        { header: 'created', value: (p) => p.createdAt },
        { header: 'tags', value: (p) => p.tags },
        { header: 'expires', value: (p) => p.expiresAt },
        { header: 'size', value: (p) => p.sizeBytes },
        { header: 'state', value: (p) => p.state },
      ]);
    });
}
