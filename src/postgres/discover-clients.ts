/** Client discovery: finds every installed pg_dump, pg_dumpall and pg_restore (PGVAULT_PG_BIN, extra dirs,
 *  /usr/lib/postgresql/<N>/bin, PATH), asks each for its version, and picks the right one for a server.
 *  It runs only `<tool> --version`; it must never pick a pg_dump older than the server it is to dump. */
import { execFile } from 'node:child_process';
import { constants, accessSync, readdirSync, realpathSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { installHint, UserErrorPgClientNotFound, UserErrorPgDumpTooOld } from './pg-errors.ts';

export const pgToolNames = ['pg_dump', 'pg_dumpall', 'pg_restore'] as const;
export type PgToolName = (typeof pgToolNames)[number];

/** One installed client binary and the version it reports. */
export interface PgClient {
  tool: PgToolName;
  /** Absolute path of the executable as found (not resolved through symlinks). */
  path: string;
  /** e.g. "15.18" (the numeric part of `--version`). */
  version: string;
  major: number;
  minor: number;
}

/** Every client found, newest major first, and the directories searched (for messages). */
export interface PgClientSet {
  clients: PgClient[];
  searchedDirs: string[];
}

export interface DiscoverClientsOptions {
  /** Searched first, before PGVAULT_PG_BIN. */
  extraDirs?: string[];
  /** Defaults to process.env; PGVAULT_PG_BIN (a path list) and PATH are read from it. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to /usr/lib/postgresql (Debian's and Ubuntu's per-version layout). */
  versionedRoot?: string;
}

/** Parses the first line of `pg_dump --version`, e.g. "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
 *  or "pg_dump (PostgreSQL) 17beta1". Returns undefined for anything else. */
export function parseToolVersion(text: string): { tool: PgToolName; version: string; major: number; minor: number } | undefined {
  const m = /^(pg_dump|pg_dumpall|pg_restore) \(PostgreSQL\) (\d+)(?:\.(\d+))?(\S*)/.exec(text.trim());
  if (!m) return undefined;
  const major = Number(m[2]);
  const minor = m[3] === undefined ? 0 : Number(m[3]);
  const version = `${m[2]}${m[3] === undefined ? '' : `.${m[3]}`}${m[4] ?? ''}`;
  return { tool: m[1] as PgToolName, version, major, minor };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function versionOf(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 10_000, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }, (err, stdout) => {
      resolve(err ? undefined : stdout);
    });
  });
}

/** The directories searched, in order of preference. */
export function clientSearchDirs(opts: DiscoverClientsOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const dirs: string[] = [...(opts.extraDirs ?? [])];
  for (const d of (env.PGVAULT_PG_BIN ?? '').split(delimiter)) if (d) dirs.push(d);
  const root = opts.versionedRoot ?? '/usr/lib/postgresql';
  try {
    const versions = readdirSync(root).filter((n) => /^\d+(\.\d+)?$/.test(n)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(join(root, v, 'bin'));
  } catch {
    // no versioned layout on this system
  }
  for (const d of (env.PATH ?? '').split(delimiter)) if (d) dirs.push(d);
  return [...new Set(dirs)];
}

/** Finds every pg_dump, pg_dumpall and pg_restore and its version. The same binary reached twice (a symlink on
 *  PATH) is listed once; Debian's pg_wrapper is skipped, since the version it runs depends on the environment
 *  (the real binaries it dispatches to are found under /usr/lib/postgresql). Never throws for a missing tool:
 *  pickClient() reports that with the version to install. */
export async function discoverClients(opts: DiscoverClientsOptions = {}): Promise<PgClientSet> {
  const searchedDirs = clientSearchDirs(opts);
  const seen = new Set<string>();
  const candidates: { tool: PgToolName; path: string }[] = [];
  for (const dir of searchedDirs) {
    for (const tool of pgToolNames) {
      const path = join(dir, tool);
      if (!isExecutable(path)) continue;
      let real: string;
      try {
        real = realpathSync(path);
      } catch {
        continue;
      }
      if (basename(real) === 'pg_wrapper' || seen.has(real)) continue;
      seen.add(real);
      candidates.push({ tool, path });
    }
  }
  const found = await Promise.all(
    candidates.map(async (c): Promise<PgClient | undefined> => {
      const parsed = parseToolVersion((await versionOf(c.path)) ?? '');
      if (!parsed || parsed.tool !== c.tool) return undefined;
      return { tool: c.tool, path: c.path, version: parsed.version, major: parsed.major, minor: parsed.minor };
    }),
  );
  const clients = found.filter((c): c is PgClient => c !== undefined);
  // Stable: newest major first, then newest minor, then search order.
  clients.sort((a, b) => b.major - a.major || b.minor - a.minor);
  return { clients, searchedDirs };
}

/** Picks the client for a server of `serverMajor`.
 *  pg_dump / pg_dumpall: the oldest major that is at least the server's (pg_dump refuses newer servers, and an
 *  archive from the closest pg_dump stays readable by the most pg_restore versions), newest minor within it;
 *  none → UserErrorPgDumpTooOld naming the version to install.
 *  pg_restore: the oldest major at least the target's, else the newest installed (pg_restore writes into newer
 *  servers; the archive's own version is checked by pg_restore itself).
 *  No such tool at all → UserErrorPgClientNotFound. */
export function pickClient(set: PgClientSet, tool: PgToolName, serverMajor: number): PgClient {
  const ofTool = set.clients.filter((c) => c.tool === tool);
  const fitting = ofTool.filter((c) => c.major >= serverMajor).sort((a, b) => a.major - b.major || b.minor - a.minor);
  const best = fitting[0];
  if (best) return best;
  const installed = ofTool.map((c) => `${c.tool} ${c.version} (${c.path})`);
  if (tool === 'pg_restore' && ofTool[0]) return ofTool[0];
  if (ofTool.length === 0) {
    throw new UserErrorPgClientNotFound(`no ${tool} is installed (searched ${set.searchedDirs.length} directories)`, {
      hint: installHint(serverMajor, tool),
      details: { tool, serverMajor, searchedDirs: set.searchedDirs },
    });
  }
  throw new UserErrorPgDumpTooOld(
    `${tool} ${serverMajor} or newer is needed to dump a PostgreSQL ${serverMajor} server; installed: ${installed.join(', ')}`,
    { hint: installHint(serverMajor, tool), details: { tool, serverMajor, installed } },
  );
}
