/** `pgvault secret list`: names and times, never values. */
import type { Command } from 'commander';
import { routes, type SecretInfo } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { allPages } from '../paging.ts';

export function register(secret: Command): void {
  secret
    .command('list')
    .description('list secret names (values are never shown)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const items = await allPages<SecretInfo>((cursor) => client.call(routes.secretList, { query: { limit: 500, ...(cursor ? { cursor } : {}) } }));
      print.list({ items }, items, [
        { header: 'name', value: (s) => s.name },
        { header: 'created', value: (s) => s.createdAt },
        { header: 'updated', value: (s) => s.updatedAt },
      ]);
    });
}
