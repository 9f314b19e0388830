/** `pgvault vault create NAME --storage URL --key REF`: initialises an encrypted vault at the storage URL
 *  (or attaches the one already there when the key opens it) and records it in the catalog. */
import { Option, type Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { contextFor } from '../context.ts';
import { integerOption } from '../options.ts';

export function register(vault: Command): void {
  vault
    .command('create')
    .description('create (or attach) an encrypted vault at a storage location')
    .argument('<name>', 'vault name')
    .requiredOption('--storage <url>', 'file:///abs/dir, azblob://account/container/prefix or https://account.blob.core.windows.net/container')
    .requiredOption('--key <reference>', 'credential reference of the vault passphrase: secret:NAME, env:VAR, file:/path, azure-keyvault:https://…')
    .option('--soft-delete-days <days>', 'days a deleted recovery point stays recoverable (0-3650, default 14)')
    .addOption(new Option('--immutability <mode>', 'off, unlocked or locked (locked is final)').choices(['off', 'unlocked', 'locked']))
    .action(async (name: string, opts: { storage: string; key: string; softDeleteDays?: string; immutability?: 'off' | 'unlocked' | 'locked' }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const body = {
        name,
        storageUrl: opts.storage,
        keyReference: opts.key,
        ...(opts.softDeleteDays === undefined ? {} : { softDeleteDays: integerOption('--soft-delete-days', opts.softDeleteDays) }),
        ...(opts.immutability === undefined ? {} : { immutability: opts.immutability }),
      };
      print.record(await client.call(routes.vaultCreate, { body }));
    });
}
