/** `pgvault serve` as a function: builds the app, starts it, and on SIGTERM or SIGINT shuts down gracefully
 *  (stop accepting, let running work end or go back to the queue, close the catalog), then resolves. */
import { appConfigFrom } from './app-config.ts';
import { buildApp } from './build-app.ts';

export interface ServeOptions {
  dataDir?: string;
  catalog?: string;
  listen?: string;
  workers?: string;
  logLevel?: string;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const config = appConfigFrom(opts);
  const app = await buildApp(config);
  const { url, adminTokenWritten } = await app.start().catch(async (err: unknown) => {
    await app.close();
    throw err;
  });
  process.stdout.write(`pgvault listening on ${url} (data dir ${config.dataDir}, catalog ${app.catalog.driver})\n`);
  if (config.catalogUrl && !process.env.PGVAULT_MASTER_KEY) {
    process.stdout.write(`note: with a shared catalog, give every serve process the same PGVAULT_MASTER_KEY; this one uses ${config.dataDir}/master.key, which other processes cannot read\n`);
  }
  if (adminTokenWritten) process.stdout.write(`first start: an admin token was written to ${config.dataDir}/admin.token (mode 0600)\n`);
  await new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      process.stdout.write(`${signal}: shutting down\n`);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      app.close().then(resolveStop, (err: unknown) => {
        process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        resolveStop();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
