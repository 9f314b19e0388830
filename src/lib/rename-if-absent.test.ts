/** renameIfAbsent on the local filesystem (it needs no filesystem without hard links to work; storage-exfat.test.ts
 *  runs it where link(2) fails): one winner among racers, a held lock waited for, a dead one broken only once it
 *  stayed unchanged for the whole wait. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nameLockPath, nameRefused, noHardLinks, renameIfAbsent } from './rename-if-absent.ts';

const dir = mkdtempSync(join(tmpdir(), 'pgvault-rename-if-absent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('renameIfAbsent', () => {
  it('lets exactly one of many racers take a name, and leaves the others their temp files', async () => {
    const target = join(dir, 'raced');
    const tmps = Array.from({ length: 12 }, (_, i) => {
      const t = join(dir, `tmp-${i}`);
      writeFileSync(t, `racer ${i}`);
      return t;
    });
    const won = await Promise.all(tmps.map((t) => renameIfAbsent(t, target)));
    expect(won.filter(Boolean)).toHaveLength(1);
    const winner = won.indexOf(true);
    expect(readFileSync(target, 'utf8')).toBe(`racer ${winner}`);
    expect(readdirSync(dir).filter((f) => f.startsWith('tmp-'))).toHaveLength(11);
    expect(readdirSync(dir).filter((f) => f.startsWith('.pgvault-tmp.'))).toEqual([]);
  });

  it('breaks a lock only after it stayed the same lock for the whole wait', async () => {
    const target = join(dir, 'late');
    const tmp = join(dir, 'late.tmp');
    writeFileSync(tmp, 'late');
    const lock = nameLockPath(target);
    mkdirSync(lock);
    const t0 = Date.now();
    const taking = renameIfAbsent(tmp, target, 400);
    // Taken afresh by another put halfway through the wait: the wait starts over.
    await new Promise((r) => setTimeout(r, 250));
    rmdirSync(lock);
    mkdirSync(lock);
    expect(await taking).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(readFileSync(target, 'utf8')).toBe('late');
    expect(readdirSync(dir).filter((f) => f.startsWith('.pgvault-tmp.'))).toEqual([]);
  });

  it('does not rename onto a name that appears while it waits', async () => {
    const target = join(dir, 'appears');
    const tmp = join(dir, 'appears.tmp');
    writeFileSync(tmp, 'mine');
    mkdirSync(nameLockPath(target));
    const taking = renameIfAbsent(tmp, target, 5_000);
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(target, 'theirs');
    rmdirSync(nameLockPath(target));
    expect(await taking).toBe(false);
    expect(readFileSync(target, 'utf8')).toBe('theirs');
    expect(readFileSync(tmp, 'utf8')).toBe('mine');
  });

  it('tells the errors apart: no hard links, a refused name, anything else', async () => {
    const tmp = join(dir, 'exists.tmp');
    writeFileSync(tmp, 'x');
    expect(noHardLinks(Object.assign(new Error('x'), { code: 'EPERM' }))).toBe(true);
    expect(noHardLinks(Object.assign(new Error('x'), { code: 'EEXIST' }))).toBe(false);
    const renameErr = (c: string): Error => Object.assign(new Error(c), { code: c, syscall: 'rename' });
    expect(await nameRefused(renameErr('ENOENT'), tmp)).toBe(true); // exfat-fuse: the file to rename is there
    expect(await nameRefused(renameErr('ENOENT'), join(dir, 'gone.tmp'))).toBe(false); // the file itself is gone
    expect(await nameRefused(renameErr('EINVAL'), tmp)).toBe(true);
    expect(await nameRefused(Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'open' }), tmp)).toBe(false); // a body's error
    expect(await nameRefused(Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'mkdir' }))).toBe(true);
    expect(await nameRefused(Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'mkdir' }), tmp)).toBe(false);
  });
});
