/** `pgvault token list`: the API tokens, never their secrets. */
import type { Command } from 'commander';
import { routes, type Token } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { allPages } from '../paging.ts';

export function register(token: Command): void {
  token
    .command('list')
    .description('list API tokens (names, roles, state; never secrets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const items = await allPages<Token>((cursor) => client.call(routes.tokenList, { query: { limit: 500, ...(cursor ? { cursor } : {}) } }));
      print.list({ items }, items, [
        { header: 'id', value: (t) => t.id },
        { header: 'name', value: (t) => t.name },
        { header: 'role', value: (t) => t.role },
        { header: 'created', value: (t) => t.createdAt },
        { header: 'revoked', value: (t) => t.revokedAt },
      ]);
    });
}
