/** Crash safety of the filesystem driver: a child process writes self-checking objects (new keys with
 *  ifAbsent, and overwrites) as fast as it can and is SIGKILLed at random moments. After every kill each
 *  listed object is complete and intact, no temp file is ever listed, and removeTempFiles clears the debris. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FilesystemBackend, type StorageKey } from '../../src/storage/index.ts';
import { listAll, readAll } from '../../src/storage/testing/conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'pgvault-fs-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const storageIndex = join(import.meta.dirname, '..', '..', 'src', 'storage', 'index.ts');

// Objects are <32-byte sha256 of the rest><random body of 1 KiB … 768 KiB>: a torn object cannot pass.
const writer = `
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import { FilesystemBackend } from ${JSON.stringify(storageIndex)};
const b = new FilesystemBackend(process.argv[1]);
const round = process.argv[2];
process.stdout.write('ready\\n');
for (let i = 0; ; i++) {
  const body = randomBytes(randomInt(1024, 768 * 1024));
  const obj = Buffer.concat([createHash('sha256').update(body).digest(), body]);
  const key = i % 3 === 0 ? 'shared/overwritten' : 'r' + round + '/' + String(i % 7) + '/' + i;
  const parts = [];
  for (let off = 0; off < obj.length; off += 64 * 1024) parts.push(obj.subarray(off, off + 64 * 1024));
  await b.put(key, i % 2 === 0 ? obj : Readable.from(parts), { ifAbsent: i % 3 !== 0 });
}
`;

function intact(obj: Buffer): boolean {
  return obj.length >= 32 && createHash('sha256').update(obj.subarray(32)).digest().equals(obj.subarray(0, 32));
}

async function runAndKill(round: number, delayMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer, root, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, delayMs)); // let it write for a random while, then pull the plug
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

describe('FilesystemBackend under SIGKILL', () => {
  it('leaves only complete objects, never lists temp files, and sweeps the debris', async () => {
    const b = new FilesystemBackend(root);
    const rounds = 6; // each round spawns a tsx child (~1-4 s here): kill points are random, not few chosen ones
    for (let round = 0; round < rounds; round++) {
      await runAndKill(round, 20 + Math.floor(Math.random() * 400));
      const keys = await listAll(b, '');
      for (const k of keys) {
        expect(k).not.toContain('.pgvault-tmp.');
        const obj = await readAll(await b.get(k as StorageKey));
        expect(intact(obj), `object ${k} after kill ${round}`).toBe(true);
      }
    }
    expect((await listAll(b, '')).length).toBeGreaterThan(rounds); // the writers did write
    const debris = (): string[] => (readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[]).filter((p) => p.split('/').pop()!.startsWith('.pgvault-tmp.'));
    const left = debris().length;
    expect(await b.removeTempFiles(new Date(Date.now() - 3_600_000))).toBe(0); // younger than the grace: kept
    expect(await b.removeTempFiles(new Date(Date.now() + 1000))).toBe(left);
    expect(debris()).toEqual([]);
  });
});
