/** `pgvault vault attach NAME --storage URL --key REF`: attaches an existing vault (after a catalog loss, or
 *  from another pgvault) and lists its recovery points from its manifests. */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';

export function register(vault: Command): void {
  vault
    .command('attach')
    .description('attach an existing vault; its recovery points become visible and restorable')
    .argument('<name>', 'name for the vault in this catalog')
    .requiredOption('--storage <url>', 'where the vault is: file:///abs/dir, azblob://account/container/prefix …')
    .requiredOption('--key <reference>', 'credential reference of its passphrase')
    .action(async (name: string, opts: { storage: string; key: string }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const res = await client.call(routes.vaultAttach, { body: { name, storageUrl: opts.storage, keyReference: opts.key } });
      print.record(print.mode === 'json' ? res : { ...res.vault, importedPoints: res.importedPoints });
    });
}
