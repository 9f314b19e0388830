/** The filesystem driver, a vault and restore-files on a real exFAT filesystem (a USB disk, an SD card), mounted
 *  with exfat-fuse on a loop device: names that differ only in case are one file there, link(2) fails with
 *  EPERM, and \ : * ? " < > | are refused in names. Skipped, with the reason in its name, where it cannot be
 *  mounted (not root, no /dev/fuse, exfatprogs or exfat-fuse missing); .ci/run installs what it needs. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryNames, runRestoreFiles } from '../../src/operations/index.ts';
import { FilesystemBackend, parseStorageKey } from '../../src/storage/index.ts';
import { nameLockPath, tempFilePrefix } from '../../src/storage/filesystem/filesystem-backend.ts';
import { describeStorageConformance, readAll } from '../../src/storage/testing/conformance.ts';
import { Vault, type ManifestId } from '../../src/vault/index.ts';
import { exfatUnavailable, mountExfat, type ExfatMount } from '../support/exfat.ts';

const unavailable = exfatUnavailable();
let disk: ExfatMount | undefined;
const mounted = (): ExfatMount => (disk ??= mountExfat());
afterAll(() => disk?.unmount());

/** Every name under `dir`, recursively, relative to it. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe.skipIf(unavailable !== undefined)(`on exFAT${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let n = 0;
  describeStorageConformance('filesystem on exFAT', () => new FilesystemBackend(join(mounted().dir, `conformance-${n++}`)), {
    refusedNameChars: /[\\:*?"<>|]/,
  });

  describe('FilesystemBackend without hard links', () => {
    it('put ifAbsent breaks a name lock left by a put that died holding it, and removeTempFiles sweeps one', async () => {
      const root = join(mounted().dir, 'locks');
      const b = new FilesystemBackend(root);
      await b.put(parseStorageKey('d/first'), Buffer.from('learns that link(2) fails here'), { ifAbsent: true });
      const target = join(root, 'd', 'second');
      mkdirSync(nameLockPath(target));
      const old = new Date(Date.now() - 120_000);
      utimesSync(nameLockPath(target), old, old);
      await b.put(parseStorageKey('d/second'), Buffer.from('after a crash'), { ifAbsent: true });
      expect(readFileSync(target, 'utf8')).toBe('after a crash');
      expect(tree(join(root, 'd'))).toEqual(['first', 'second']);

      // A lock held now (a racer between its check and its rename) means another put is taking the name.
      mkdirSync(nameLockPath(join(root, 'd', 'third')));
      await expect(b.put(parseStorageKey('d/third'), Buffer.from('loses'), { ifAbsent: true })).rejects.toMatchObject({ code: 'StorageErrorAlreadyExists' });
      expect(tree(join(root, 'd')).filter((f) => !f.startsWith(tempFilePrefix))).toEqual(['first', 'second']);
      expect(await b.removeTempFiles(new Date(Date.now() - 3_600_000))).toBe(0);
      expect(await b.removeTempFiles(new Date(Date.now() + 1000))).toBe(1);
      expect(tree(join(root, 'd'))).toEqual(['first', 'second']);
      await b.put(parseStorageKey('d/third'), Buffer.from('now'), { ifAbsent: true });
      expect(tree(join(root, 'd'))).toEqual(['first', 'second', 'third']);
    });
  });

  describe('a vault on exFAT', () => {
    it('saves, reads back and checks every blob', async () => {
      const vault = await Vault.create(new FilesystemBackend(join(mounted().dir, 'vault')), { passphrase: 'usb stick in a drawer', kdf: { N: 1 << 10, r: 8, p: 1 } });
      try {
        const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => createHash('sha512').update(String(i)).digest()).map((h) => Buffer.concat(Array(400).fill(h))));
        const m = await vault.save(Readable.from([data]), { what: 'exfat' });
        const again = await vault.save(Readable.from([data]), { what: 'exfat, again' });
        expect(again.newBytes).toBe(0);
        expect((await readAll(vault.load(m.id, 'data'))).equals(data)).toBe(true);
        const report = await vault.check({ readData: true });
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
        expect(report.manifests).toBe(2);
        expect(tree(join(mounted().dir, 'vault')).filter((f) => f.split('/').pop()!.startsWith(tempFilePrefix))).toEqual([]);
      } finally {
        await vault.close();
      }
    });
  });

  describe('restore-files into exFAT', () => {
    let vault: Vault;
    let point: ManifestId;
    const bodies = new Map<string, Buffer>([
      ['Sales', Buffer.from('PGDMP… the archive of "Sales"')],
      ['sales', Buffer.from('PGDMP… the archive of "sales", another database')],
      ['other', Buffer.from('PGDMP… the archive of "other"')],
    ]);
    const work = mkdtempSync(join(tmpdir(), 'pgvault-exfat-files-'));

    beforeAll(async () => {
      vault = await Vault.create(new FilesystemBackend(join(work, 'vault')), { passphrase: 'correct horse battery', kdf: { N: 1 << 10, r: 8, p: 1 } });
      const w = vault.beginManifest({ kind: 'server' });
      for (const [db, body] of bodies) await w.addEntry(entryNames.archive(db), Readable.from([body]));
      point = (await w.commit()).id;
    });
    afterAll(async () => {
      await vault?.close();
      rmSync(work, { recursive: true, force: true });
    });

    it('refuses up front, writing nothing, databases whose files would be one there', async () => {
      const dir = join(mounted().dir, 'all');
      const err = await runRestoreFiles(vault, point, dir).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UserErrorConflict', details: { collisions: [['Sales.dump', 'sales.dump']] } });
      expect((err as Error).message).toBe(`databases "Sales" and "sales" would be one file in ${dir}: its filesystem does not tell upper from lower case`);
      expect(tree(dir)).toEqual([]);
      // On a filesystem that tells case apart, the same restore writes both.
      const files = await runRestoreFiles(vault, point, join(work, 'case-sensitive'));
      expect(files.map((f) => f.name).sort()).toEqual(['Sales.dump', 'other.dump', 'sales.dump']);
    });

    it('writes each file whole without hard links, and never over another', async () => {
      const dir = join(mounted().dir, 'some');
      const files = await runRestoreFiles(vault, point, dir, { databases: ['Sales', 'other'] });
      expect(files.map((f) => f.name)).toEqual(['Sales.dump', 'other.dump']);
      expect(tree(dir)).toEqual(['Sales.dump', 'other.dump']);
      expect(readFileSync(join(dir, 'Sales.dump')).equals(bodies.get('Sales')!)).toBe(true);
      expect(readFileSync(join(dir, 'other.dump')).equals(bodies.get('other')!)).toBe(true);
      // "sales" is Sales.dump's name on this filesystem: refused, the file that is there kept.
      const err = await runRestoreFiles(vault, point, dir, { databases: ['sales'] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UserErrorConflict' });
      expect((err as Error).message).toContain('already exists');
      expect(readFileSync(join(dir, 'Sales.dump')).equals(bodies.get('Sales')!)).toBe(true);
      expect(tree(dir)).toEqual(['Sales.dump', 'other.dump']);
      // Into a directory of its own, it restores.
      await runRestoreFiles(vault, point, join(mounted().dir, 'lower'), { databases: ['sales'] });
      expect(readFileSync(join(mounted().dir, 'lower', 'sales.dump')).equals(bodies.get('sales')!)).toBe(true);
    });
  });
});
