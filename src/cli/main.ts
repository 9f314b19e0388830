/** The pgvault command line: `pgvault <noun> <verb>`. A client of the HTTP API (except `serve`, which the
 *  composition root provides); it never touches the catalog or a vault directly.
 *  Errors print as `ERROR [code]: message` plus `HINT:` and exit with the category's code. */
import { Command, CommanderError } from 'commander';
import { asPgvaultError, exitCodeByCategory } from '../lib/index.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('pgvault')
    .description('An encrypted, deduplicating backup vault for PostgreSQL')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : exitCodeByCategory.user;
    }
    const e = asPgvaultError(err);
    process.stderr.write(`ERROR [${e.code}]: ${e.message}\n`);
    if (e.hint) process.stderr.write(`HINT: ${e.hint}\n`);
    return exitCodeByCategory[e.category];
  }
}
