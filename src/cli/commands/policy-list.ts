/** `pgvault policy list [--vault V]`. */
import type { Command } from 'commander';
import { routes, type Policy } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { allPages } from '../paging.ts';

export function register(policy: Command): void {
  policy
    .command('list')
    .description('list policies')
    .option('--vault <vault>', 'only this vault')
    .action(async (opts: { vault?: string }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const items = await allPages<Policy>((cursor) => client.call(routes.policyList, { query: { limit: 500, ...(opts.vault ? { vault: opts.vault } : {}), ...(cursor ? { cursor } : {}) } }));
      print.list({ items }, items, [
        { header: 'name', value: (p) => p.name },
        { header: 'schedules', value: (p) => p.schedules.map((s) => `${s.repeatingInterval} ${s.timeZone}`).join('; ') },
        { header: 'retention', value: (p) => p.retentionRules.map((r) => `${r.tag}=${r.duration}`).join(' ') },
        { header: 'id', value: (p) => p.id },
      ]);
    });
}
