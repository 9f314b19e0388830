/** The vault on the real filesystem driver with a real pg_dump stream: a pg_dump -Fc -Z0 of the fixture
 *  database (PostgreSQL 15) is piped into Vault.save with backpressure, loaded back byte-identical (SHA-256
 *  of the live stream), read by pg_restore --list, and a second dump after ~2 % churn stores only a fraction. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemBackend } from '../../src/storage/index.ts';
import { Vault, type ManifestInfo } from '../../src/vault/index.ts';
import { collect } from '../../src/vault/testing/test-data.ts';
import { buildFixture, churn, startCluster, type PgCluster } from '../support/index.ts';

let cluster: PgCluster;
const dir = mkdtempSync(join(tmpdir(), 'pgvault-vault-it-'));

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  await buildFixture(cluster, 'vault_it', { scale: 2, seed: 3 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** pg_dump with the password in its environment (never argv), its stdout hashed on the way into the vault. */
async function saveDump(vault: Vault, name: string): Promise<{ info: ManifestInfo; sha256: string }> {
  const dump = spawn('pg_dump', ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.superuser, '-Fc', '-Z0', '-d', 'vault_it'], {
    env: { ...process.env, PGPASSWORD: cluster.password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const hash = createHash('sha256');
  const tee = new PassThrough();
  dump.stdout.on('data', (d: Buffer) => hash.update(d));
  dump.stdout.pipe(tee);
  const exited = new Promise<number>((r) => dump.on('exit', (code) => r(code ?? -1)));
  const info = await vault.save(tee, { database: 'vault_it' }, name);
  expect(await exited).toBe(0);
  return { info, sha256: hash.digest('hex') };
}

describe('vault with pg_dump streams on the filesystem driver', () => {
  it('saves a live dump, loads it byte-identical, and dedups the next dump after churn', async () => {
    // 64 KiB chunks on average: this dump is ~13 MB, and where the server puts updated rows varies from run
    // to run (free space, autovacuum), so with 1 MiB chunks the changed share of ~13 chunks swung around 60 %
    // (64 % in two of seven runs, with and without this session's save path).
    const chunker = { minBytes: 16 * 1024, avgBytes: 64 * 1024, maxBytes: 512 * 1024 };
    const vault = await Vault.create(new FilesystemBackend(dir), { passphrase: 'integration', kdf: { N: 1024, r: 8, p: 1 }, chunker });
    const first = await saveDump(vault, 'db/vault_it.dump');
    expect(first.info.sizeBytes).toBeGreaterThan(5_000_000);
    expect(first.info.entries[0]!.sha256).toBe(first.sha256);

    const loaded = await collect(vault.load(first.info.id, 'db/vault_it.dump'));
    expect(createHash('sha256').update(loaded).digest('hex')).toBe(first.sha256);
    const file = join(dir, 'restored.dump');
    writeFileSync(file, loaded);
    const list = spawn('pg_restore', ['--list', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const toc = (await collect(list.stdout)).toString();
    expect(toc).toContain('TABLE DATA app orders');

    await churn(cluster, 'vault_it', { fraction: 0.02, pattern: 'recent', seed: 1 });
    const second = await saveDump(vault, 'db/vault_it.dump');
    expect(second.sha256).not.toBe(first.sha256);
    // Content-defined chunks: only the chunks around changed rows are new.
    // Measured 6–10 % new (0.8–1.4 MB of 13.1 MB); a chunker that is not content-defined renews everything
    // after the first change.
    expect(second.info.newBytes).toBeLessThan(second.info.sizeBytes * 0.3);
    expect((await collect(vault.load(second.info.id))).length).toBe(second.info.sizeBytes);
    expect((await vault.check({ readData: true })).problems).toEqual([]);
  });
});
