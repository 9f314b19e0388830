/** Crash safety of the vault (vault-format.md §11): a writer child process is SIGKILLed at PGVAULT_CRASH_KILLS
 *  (default 100) random points while it writes manifests with concurrent entries, forgets and prunes on the real
 *  filesystem driver. After every kill, check --read-data is clean and every manifest in the vault loads
 *  byte-identical to the data its meta describes; every manifest the child reported committed (and did not
 *  start to forget) is still there. The child script (runnable by hand with `node --import tsx`) is bundled
 *  once with esbuild so that a start-up costs ~0.15 s of CPU instead of ~1.3 s; two children start ahead. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemBackend } from '../../src/storage/index.ts';
import { Vault, type ManifestId } from '../../src/vault/index.ts';
import { collect } from '../../src/vault/testing/test-data.ts';
import { crashBlocks, crashChunker } from './vault-crash-data.ts';

const kills = Number(process.env.PGVAULT_CRASH_KILLS ?? 100);
const passphrase = 'crash test passphrase';
const dir = mkdtempSync(join(tmpdir(), 'pgvault-crash-'));
const bundle = join(dir, 'writer.mjs');
const vaultDir = join(dir, 'vault');
const live = new Set<ChildProcess>();

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  firstCommit: Promise<void>;
  exited: Promise<void>;
  lines: string[];
}

function startChild(): Child {
  const proc = spawn(process.execPath, [bundle, vaultDir], {
    env: { ...process.env, PGVAULT_CRASH_PASSPHRASE: passphrase },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(proc);
  const lines: string[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  let onCommit: () => void = () => undefined;
  const firstCommit = new Promise<void>((r) => (onCommit = r));
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    if (l === 'READY') onReady();
    else lines.push(l);
    if (l.startsWith('COMMITTED')) onCommit();
  });
  const exited = new Promise<void>((resolve, reject) =>
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited with ${code ?? signal} before being killed: ${stderr}`));
    }),
  );
  exited.catch(() => undefined);
  return { proc, ready, firstCommit, exited, lines };
}

beforeAll(async () => {
  // Native bindings stay outside the bundle, imported by absolute path from this checkout's node_modules.
  const req = createRequire(import.meta.url);
  await build({
    entryPoints: [join(import.meta.dirname, 'vault-crash-writer.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    logLevel: 'error',
    banner: { js: "import { createRequire as __pgvCreateRequire } from 'node:module'; const require = __pgvCreateRequire(import.meta.url);" },
    plugins: [
      {
        name: 'native-by-path',
        setup(b) {
          b.onResolve({ filter: /^(@mongodb-js\/zstd|zstd-napi)$/ }, (args) => ({ path: req.resolve(args.path), external: true }));
        },
      },
    ],
  });
});

afterAll(() => {
  for (const p of live) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('vault crash safety', () => {
  it(`survives ${kills} SIGKILLs of a writer at random points`, async () => {
    await Vault.create(new FilesystemBackend(vaultDir), { passphrase, kdf: { N: 1024, r: 8, p: 1 }, chunker: crashChunker });
    const timing = { ready: 0, verify: 0, check: 0 };
    let roundMs = 500;
    const committed = new Set<string>();
    const forgetting = new Set<string>();
    const ahead = [startChild(), startChild()];
    let manifestsSeen = 0;
    let maxLoaded = 0;
    for (let k = 0; k < kills; k++) {
      const t0 = performance.now();
      const child = ahead.shift()!;
      await child.ready;
      timing.ready += performance.now() - t0;
      ahead.push(startChild()); // overlaps its start-up with this round
      child.proc.stdin!.write('GO\n');
      const go = performance.now();
      // Random point within 1.5 rounds (open, writes with packs in flight, commit, forget, prune). The round
      // time is measured, not assumed: every 10th child runs to its first commit, so the kills keep landing
      // in real work however loaded the machine is.
      let delayMs: number;
      if (k % 10 === 0) {
        await Promise.race([child.firstCommit, new Promise((r) => setTimeout(r, 20_000))]);
        roundMs = Math.max(50, performance.now() - go);
        delayMs = roundMs + Math.random() * 50;
        await new Promise((r) => setTimeout(r, Math.random() * 50));
      } else {
        delayMs = Math.random() * 1.5 * roundMs;
        await new Promise((r) => setTimeout(r, delayMs));
      }
      child.proc.kill('SIGKILL');
      await child.exited;
      for (const l of child.lines) {
        const [what, id] = l.split(' ');
        if (what === 'COMMITTED') committed.add(id!);
        if (what === 'FORGETTING') forgetting.add(id!);
      }

      const t1 = performance.now();
      const vault = await Vault.open(new FilesystemBackend(vaultDir), { passphrase });
      const report = await vault.check({ readData: true });
      timing.check += performance.now() - t1;
      expect(report.problems, `after kill ${k} (${delayMs.toFixed(0)} ms)`).toEqual([]);
      const ids = new Set(await vault.listManifests());
      for (const id of committed) if (!forgetting.has(id)) expect(ids.has(id as ManifestId), `committed manifest ${id} after kill ${k}`).toBe(true);
      for (const id of ids) {
        const m = await vault.readManifest(id);
        const described = m.meta.entries as Record<string, string[]>;
        expect(Object.keys(described).sort()).toEqual(m.entries.map((e) => e.name).sort());
        for (const [name, blocks] of Object.entries(described)) {
          const got = await collect(vault.load(id, name));
          expect(got.equals(crashBlocks(blocks)), `manifest ${id} entry ${name}`).toBe(true);
        }
      }
      manifestsSeen = Math.max(manifestsSeen, committed.size);
      maxLoaded = Math.max(maxLoaded, ids.size);
      await vault.close();
      timing.verify += performance.now() - t1;
    }
    for (const c of ahead) {
      c.proc.kill('SIGKILL');
      await c.exited;
    }
    // The kills must have landed among real work, not only during start-up.
    expect(committed.size).toBeGreaterThan(kills / 5);
    expect(maxLoaded).toBeGreaterThan(2);
    console.log(`crash test: ${kills} kills, ${committed.size} manifests committed, ${forgetting.size} forgotten, round ${roundMs.toFixed(0)} ms; waited ${(timing.ready / 1000).toFixed(1)} s for children, ${(timing.verify / 1000).toFixed(1)} s verifying (check ${(timing.check / 1000).toFixed(1)} s)`);
  }, 300_000);
});
