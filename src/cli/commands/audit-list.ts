/** `pgvault audit list [--limit N]`: the newest entries of the audit log (admin). */
import type { Command } from 'commander';
import { routes, type AuditEntry } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { integerOption } from '../options.ts';

export function register(audit: Command): void {
  audit
    .command('list')
    .description('who did what, when, with what result (newest first)')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (opts: { limit?: string; cursor?: string }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const page = await client.call(routes.auditList, { query: { ...(opts.limit ? { limit: integerOption('--limit', opts.limit) } : {}), ...(opts.cursor ? { cursor: opts.cursor } : {}) } });
      print.list(page, page.items, [
        { header: 'at', value: (e: AuditEntry) => e.at },
        { header: 'actor', value: (e: AuditEntry) => e.actor },
        { header: 'action', value: (e: AuditEntry) => e.action },
        { header: 'target', value: (e: AuditEntry) => e.target },
        { header: 'result', value: (e: AuditEntry) => e.result },
      ]);
      if (page.nextCursor) print.note(`more: --cursor ${page.nextCursor}`);
    });
}
