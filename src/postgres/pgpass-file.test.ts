import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgpassFile, pgpassEscape, sweepStalePgpassDirs } from './pgpass-file.ts';

describe('pgpass files', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pgvault-pgpass-test-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('escapes colon and backslash as libpq reads them', () => {
    expect(pgpassEscape('a:b\\c')).toBe('a\\:b\\\\c');
  });

  it('writes the password to a 0600 file in a 0700 directory and removes both', () => {
    const f = createPgpassFile('pw:with\\odd');
    expect(readFileSync(f.path, 'utf8')).toBe('*:*:*:*:pw\\:with\\\\odd\n');
    expect(statSync(f.path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(f.path)).mode & 0o777).toBe(0o700);
    expect(dirname(f.path)).toContain(`pgvault-pgpass-${process.pid}-`);
    f.remove();
    expect(existsSync(dirname(f.path))).toBe(false);
  });

  it('sweeps directories of dead processes only', () => {
    const deadPid = spawnSync('true').pid as number;
    const dead = join(scratch, `pgvault-pgpass-${deadPid}-abc`);
    const mine = join(scratch, `pgvault-pgpass-${process.pid}-def`);
    for (const d of [dead, mine]) {
      mkdirSync(d);
      writeFileSync(join(d, 'pgpass'), '*:*:*:*:x\n');
    }
    expect(sweepStalePgpassDirs(scratch)).toEqual([`pgvault-pgpass-${deadPid}-abc`]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(mine)).toBe(true);
  });
});
