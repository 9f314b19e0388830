/** dumpIntoVault with a stand-in pg_dump (a shell script): output the archive reader refuses must stop the tool,
 *  not leave it blocked on a full pipe with the backup waiting for its exit. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePgUrl, type PgClient } from '../postgres/index.ts';
import { MemoryBackend } from '../storage/index.ts';
import { Vault } from '../vault/index.ts';
import { dumpIntoVault } from './dump-into-vault.ts';

const dir = mkdtempSync(join(tmpdir(), 'pgvault-dump-into-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dumpIntoVault', () => {
  it('stops a pg_dump whose first bytes are no archive, and fails with the reader\'s error', async () => {
    const tool = join(dir, 'pg_dump');
    // 8 MiB of "x": far more than the pipe and the stream buffers hold, then a clean exit.
    writeFileSync(tool, `#!/bin/sh\nhead -c 8388608 /dev/zero | tr '\\\\0' x\nexit 0\n`);
    chmodSync(tool, 0o755);
    const client: PgClient = { tool: 'pg_dump', path: tool, version: '15.18', major: 15, minor: 18 };
    const vault = await Vault.create(new MemoryBackend(), { passphrase: 'correct horse battery', kdf: { N: 1 << 10, r: 8, p: 1 } });
    try {
      const writer = vault.beginManifest({});
      const err = await dumpIntoVault(writer, parsePgUrl('postgresql://backup:pw@127.0.0.1:5/app'), 'app', client).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'IntegrityErrorArchiveMalformed' });
      expect((err as Error).message).toContain('PGDMP');
      // Nothing was added: the writer still commits (a whole-server point would go on without this database).
      expect((await writer.commit()).entries).toEqual([]);
    } finally {
      await vault.close();
    }
  }, 15_000);
});
