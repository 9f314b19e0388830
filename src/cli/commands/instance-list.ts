/** `pgvault instance list [--vault V]`. */
import type { Command } from 'commander';
import { routes, type Instance } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { allPages } from '../paging.ts';

export function register(instance: Command): void {
  instance
    .command('list')
    .description('list backup instances')
    .option('--vault <vault>', 'only this vault')
    .action(async (opts: { vault?: string }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const items = await allPages<Instance>((cursor) => client.call(routes.instanceList, { query: { limit: 500, ...(opts.vault ? { vault: opts.vault } : {}), ...(cursor ? { cursor } : {}) } }));
      print.list({ items }, items, [
        { header: 'name', value: (i) => i.name },
        { header: 'state', value: (i) => i.state },
        { header: 'datasource', value: (i) => (i.datasource.kind === 'server' ? `${i.datasource.serverUrl} (whole server)` : `${i.datasource.serverUrl} db ${i.datasource.databaseName}`) },
        { header: 'credential', value: (i) => i.credentialReference },
        { header: 'id', value: (i) => i.id },
      ]);
    });
}
