/** Registers `pgvault serve` on the CLI program. Light on purpose: the app (catalog, Fastify, queue) is loaded
 *  only when serve actually runs, so every other command starts fast. */
import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the pgvault server: HTTP API, scheduler and workers')
    .option('--catalog <url>', 'a shared PostgreSQL catalog (postgresql://…; PGVAULT_CATALOG_URL); give all processes the same PGVAULT_MASTER_KEY. Default: embedded in the data dir')
    .option('--listen <host:port>', 'where to listen (default 127.0.0.1:8432, loopback only; PGVAULT_LISTEN)')
    .option('--workers <n>', 'job workers in this process (default 2)')
    .option('--log-level <level>', 'debug, info, warn, error or silent (default info)')
    .action(async (opts: { catalog?: string; listen?: string; workers?: string; logLevel?: string }, cmd: Command) => {
      const { dataDir } = cmd.optsWithGlobals<{ dataDir?: string }>();
      const { serve } = await import('./serve.ts');
      await serve({ ...opts, ...(dataDir ? { dataDir } : {}) });
    });
}
