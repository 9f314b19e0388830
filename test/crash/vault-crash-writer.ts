/** Child process of the vault crash test: opens the vault named by argv[2] (passphrase from the environment,
 *  never argv), prints READY, waits for "GO" on stdin, then writes manifests of 1–3 concurrent entries,
 *  forgets old ones and prunes, forever, until the parent SIGKILLs it. Each entry's content is described in
 *  the manifest's meta (block names), so the parent can regenerate and compare every committed manifest. */
import { createInterface } from 'node:readline';
import { FilesystemBackend } from '../../src/storage/filesystem/filesystem-backend.ts';
import { Vault } from '../../src/vault/index.ts';
import { crashBlocks, crashTuning } from './vault-crash-data.ts';
import { streamOf } from '../../src/vault/testing/test-data.ts';

const dir = process.argv[2];
const passphrase = process.env.PGVAULT_CRASH_PASSPHRASE;
if (!dir || !passphrase) {
  console.error('usage: PGVAULT_CRASH_PASSPHRASE=… node --import tsx vault-crash-writer.ts <vault dir>');
  process.exit(2);
}

const rl = createInterface({ input: process.stdin });
console.log('READY');
await new Promise<void>((resolve) => rl.once('line', () => resolve()));
rl.close();

const vault = await Vault.open(new FilesystemBackend(dir), { passphrase, tuning: crashTuning });
const pick = (n: number): number => Math.floor(Math.random() * n);
for (let round = 1; ; round++) {
  const entries: Record<string, string[]> = {};
  const count = 1 + pick(3);
  for (let e = 0; e < count; e++) {
    const blocks = Array.from({ length: 3 + pick(10) }, () => (Math.random() < 0.8 ? `shared-${pick(24)}` : `fresh-${process.pid}-${round}-${pick(1e9)}`));
    entries[`entry-${e}`] = blocks;
  }
  const w = vault.beginManifest({ entries });
  await Promise.all(Object.entries(entries).map(([name, blocks]) => w.addEntry(name, streamOf(crashBlocks(blocks), 1000 + pick(70_000)))));
  const info = await w.commit();
  console.log(`COMMITTED ${info.id}`);
  const ids = await vault.listManifests();
  if (ids.length > 4) {
    const victim = ids[pick(ids.length)]!;
    console.log(`FORGETTING ${victim}`);
    await vault.forget(victim);
  }
  if (round % 2 === 0) await vault.prune({ graceMs: 0 });
}
