/** `pgvault vault list`. */
import type { Command } from 'commander';
import { routes, type Vault } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { allPages } from '../paging.ts';

export function register(vault: Command): void {
  vault
    .command('list')
    .description('list vaults')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const items = await allPages<Vault>((cursor) => client.call(routes.vaultList, { query: { limit: 500, ...(cursor ? { cursor } : {}) } }));
      print.list({ items }, items, [
        { header: 'name', value: (v) => v.name },
        { header: 'storage', value: (v) => v.storageUrl },
        { header: 'immutability', value: (v) => v.immutability },
        { header: 'soft-delete days', value: (v) => v.softDeleteDays },
        { header: 'id', value: (v) => v.id },
      ]);
    });
}
