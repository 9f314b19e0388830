/** The filesystem driver, a vault and restore-files on a real exFAT filesystem (a USB disk, an SD card), mounted
 *  with exfat-fuse on a loop device: names that differ only in case are one file there, link(2) fails with
 *  EPERM, and \ : * ? " < > | are refused in names. Skipped, with the reason in its name, where it cannot be
 *  mounted (not root, no /dev/fuse, exfatprogs or exfat-fuse missing); .ci/run installs what it needs. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryNames, runRestoreFiles } from '../../src/operations/index.ts';
import { FilesystemBackend, MemoryBackend, parseStorageKey } from '../../src/storage/index.ts';
import { nameLockPath, tempFilePrefix } from '../../src/lib/index.ts';
import { describeStorageConformance, listAll, readAll } from '../../src/storage/testing/conformance.ts';
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
    it('put ifAbsent waits for a name lock held now, and breaks one left by a put that died holding it', async () => {
      const root = join(mounted().dir, 'locks');
      const b = new FilesystemBackend(root, { deadNameLockMs: 400 });
      await b.put(parseStorageKey('d/first'), Buffer.from('learns that link(2) fails here'), { ifAbsent: true });
      const dir = join(root, 'd');
      const visible = (): string[] => tree(dir).filter((f) => !f.startsWith(tempFilePrefix));

      // A racer between its check and its rename holds the lock: the put waits for it, then sees its object.
      mkdirSync(nameLockPath(join(dir, 'raced')));
      let settled = false;
      const loser = b.put(parseStorageKey('d/raced'), Buffer.from('loses'), { ifAbsent: true }).finally(() => (settled = true));
      loser.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 150));
      expect(settled).toBe(false);
      writeFileSync(join(dir, 'raced'), 'the racer wins');
      rmdirSync(nameLockPath(join(dir, 'raced')));
      await expect(loser).rejects.toMatchObject({ code: 'StorageErrorAlreadyExists' });
      expect(readFileSync(join(dir, 'raced'), 'utf8')).toBe('the racer wins');

      // A lock nobody releases (its put died) is broken once it has stayed unchanged for deadNameLockMs.
      mkdirSync(nameLockPath(join(dir, 'second')));
      const t0 = Date.now();
      await b.put(parseStorageKey('d/second'), Buffer.from('after a crash'), { ifAbsent: true });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
      expect(readFileSync(join(dir, 'second'), 'utf8')).toBe('after a crash');
      expect(tree(dir)).toEqual(['first', 'raced', 'second']);
      // On a filesystem blind to case, "SECOND" is the same name, and its lock the same lock.
      expect(nameLockPath(join(dir, 'SECOND'))).toBe(nameLockPath(join(dir, 'second')));
      await expect(b.put(parseStorageKey('d/SECOND'), Buffer.from('x'), { ifAbsent: true })).rejects.toMatchObject({ code: 'StorageErrorAlreadyExists' });

      // removeTempFiles sweeps a dead lock too.
      mkdirSync(nameLockPath(join(dir, 'third')));
      expect(await b.removeTempFiles(new Date(Date.now() - 3_600_000))).toBe(0);
      expect(await b.removeTempFiles(new Date(Date.now() + 1000))).toBe(1);
      expect(visible()).toEqual(['first', 'raced', 'second']);
      expect(tree(dir)).toEqual(['first', 'raced', 'second']);
    });

    it('a body that fails is its own error, not a refused name', async () => {
      const b = new FilesystemBackend(join(mounted().dir, 'bodies'));
      const failing = new Readable({
        read() {
          this.destroy(Object.assign(new Error('ENOENT: no such file or directory, open /gone'), { code: 'ENOENT', syscall: 'open' }));
        },
      });
      const err = await b.put(parseStorageKey('x/y'), failing, { ifAbsent: true }).catch((e: unknown) => e);
      expect((err as Error).message).not.toContain('refuses the name');
      expect(tree(join(mounted().dir, 'bodies', 'x'))).toEqual([]);
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

    it('refuses up front too when the exFAT directory is given as a storage location; an object store takes both', async () => {
      const store = new FilesystemBackend(join(mounted().dir, 'as-store'));
      const err = await runRestoreFiles(vault, point, store, { prefix: 'p/' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UserErrorConflict', details: { collisions: [['Sales.dump', 'sales.dump']] } });
      expect(tree(join(mounted().dir, 'as-store', 'p'))).toEqual([]);
      const objects = new MemoryBackend();
      const files = await runRestoreFiles(vault, point, objects, { prefix: 'p/' });
      expect(files.map((f) => f.name).sort()).toEqual(['Sales.dump', 'other.dump', 'sales.dump']);
      expect((await listAll(objects, '')).sort()).toEqual(['p/Sales.dump', 'p/other.dump', 'p/sales.dump']);
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
