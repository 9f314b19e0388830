/** A real exFAT filesystem for a test file: an image file formatted with mkfs.exfat, attached to a loop device
 *  and mounted with exfat-fuse. exFAT is what a USB disk or an SD card holds: names are case-insensitive (but keep
 *  their case) and there are no hard links (link(2) fails with EPERM). Needs root, /dev/fuse, losetup and the
 *  Debian packages exfatprogs and exfat-fuse (.ci/run installs them); `exfatUnavailable()` says which is missing.
 *  The caller unmounts in afterAll; a process that dies first unmounts in its exit handler. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExfatMount {
  /** The mounted filesystem's root directory. */
  dir: string;
  unmount(): void;
}

const tools = { 'mkfs.exfat': 'exfatprogs', 'mount.exfat-fuse': 'exfat-fuse', losetup: 'mount' } as const;

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore', env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } }).status === 0;
}

/** Why exFAT cannot be mounted here, or undefined when it can. */
export function exfatUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting exFAT needs root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  const missing = Object.entries(tools).filter(([tool]) => !onPath(tool));
  if (missing.length > 0) return `missing ${missing.map(([t, pkg]) => `${t} (Debian package ${pkg})`).join(', ')}`;
  return undefined;
}

export function mountExfat(sizeMiB = 64): ExfatMount {
  const why = exfatUnavailable();
  if (why) throw new Error(`cannot mount exFAT: ${why}`);
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
  const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const base = mkdtempSync(join(tmpdir(), 'pgvault-exfat-'));
  const image = join(base, 'disk.img');
  const dir = join(base, 'mnt');
  mkdirSync(dir);
  let loop: string | undefined;
  let mounted = false;
  const unmount = (): void => {
    if (mounted) spawnSync('umount', [dir], { env, stdio: 'ignore' });
    mounted = false;
    if (loop) spawnSync('losetup', ['-d', loop], { env, stdio: 'ignore' });
    loop = undefined;
    rmSync(base, { recursive: true, force: true });
    process.off('exit', unmount);
  };
  try {
    run('truncate', ['-s', `${sizeMiB}M`, image]);
    run('mkfs.exfat', [image]);
    loop = run('losetup', ['-f', '--show', image]);
    run('mount.exfat-fuse', [loop, dir]);
    mounted = true;
  } catch (err) {
    unmount();
    throw err;
  }
  process.on('exit', unmount);
  return { dir, unmount };
}
