/** What every command needs: the global options resolved into an API client and a printer.
 *  Server: --url, PGVAULT_URL, <data-dir>/server.url (written by serve), else http://127.0.0.1:8432.
 *  Token: --token, PGVAULT_TOKEN, else <data-dir>/admin.token. The token is never printed or logged. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserErrorInvalidInput } from '../lib/index.ts';
import { ApiClient } from '../api/contract/index.ts';
import { makePrinter, type OutputMode, type Printer } from './output.ts';

export const defaultPort = 8432;

export interface GlobalOptions {
  url?: string;
  token?: string;
  dataDir?: string;
  output?: string;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGVAULT_DATA_DIR) return env.PGVAULT_DATA_DIR;
  const base = env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  return join(base, 'pgvault');
}

export interface CliContext {
  client: ApiClient;
  print: Printer;
}

export function outputMode(value: string | undefined): OutputMode {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new UserErrorInvalidInput(`--output "${value}" is not an output format`, { hint: 'Use --output json (for scripts) or --output table (for people).' });
}

function readTrimmed(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const v = readFileSync(path, 'utf8').trim();
  return v.length > 0 ? v : undefined;
}

/** Resolves the globals of the command being run (works at any depth of subcommands). */
export function contextFor(cmd: Command, env: NodeJS.ProcessEnv = process.env): CliContext {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const dataDir = g.dataDir ?? defaultDataDir(env);
  const url = g.url ?? env.PGVAULT_URL ?? readTrimmed(join(dataDir, 'server.url')) ?? `http://127.0.0.1:${defaultPort}`;
  const token = g.token ?? env.PGVAULT_TOKEN ?? readTrimmed(join(dataDir, 'admin.token'));
  return { client: new ApiClient({ url, ...(token ? { token } : {}) }), print: makePrinter(outputMode(g.output)) };
}
