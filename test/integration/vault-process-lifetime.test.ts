/** The vault's worker threads and the process's lifetime, in a real child process: a script that saves and
 *  loads (whole and a range) and never calls close() must finish its work and then exit on its own. The
 *  workers may neither keep an idle process alive (a CLI that never exits) nor let it exit while a reply is
 *  awaited (an unfinished top-level await, exit code 13, with the load cut short). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'pgvault-lifetime-'));
const src = resolve(import.meta.dirname, '../../src');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = `
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { FilesystemBackend } from ${JSON.stringify(join(src, 'storage/index.ts'))};
import { Vault } from ${JSON.stringify(join(src, 'vault/index.ts'))};
import { cheapKdf, collect, seededBytes, smallChunker } from ${JSON.stringify(join(src, 'vault/testing/test-data.ts'))};
const data = seededBytes(3 * 1024 * 1024, 'lifetime');
const backend = new FilesystemBackend(process.argv[2]);
await Vault.create(backend, { passphrase: 'p', kdf: cheapKdf, chunker: smallChunker });
const vault = await Vault.open(backend, { passphrase: 'p' });
const info = await vault.save(Readable.from([data]), {});
const whole = await collect(vault.load(info.id));
const range = await collect(vault.load(info.id, undefined, { offset: 1000, length: 500_000 }));
const sha = (b) => createHash('sha256').update(b).digest('hex');
console.log(JSON.stringify({ whole: sha(whole) === sha(data), range: range.equals(data.subarray(1000, 501_000)) }));
`;

function run(file: string, vaultDir: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((done) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, ['--import', 'tsx', file, vaultDir], { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve(src, '..') });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(killer);
      done({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('vault worker threads and the process lifetime', () => {
  it('a process that saves and loads without close() completes both and exits by itself', async () => {
    const file = join(dir, 'no-close.mts');
    writeFileSync(file, script);
    const r = await run(file, join(dir, 'vault'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0); // 13 would be an unfinished top-level await; SIGKILL (null) a process kept alive
    expect(JSON.parse(r.stdout.trim())).toEqual({ whole: true, range: true });
  }, 90_000);
});
