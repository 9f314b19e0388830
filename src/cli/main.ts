/** The pgvault command line: `pgvault <noun> <verb>`. A client of the HTTP API (except `serve`, which the
 *  composition root injects through `extend`); it never touches the catalog or a vault directly.
 *  Errors print as `ERROR [code]: message` plus `HINT:` and exit with the category's code (docs/errors.md). */
import { Command, CommanderError, Option } from 'commander';
import { asPgvaultError, exitCodeByCategory } from '../lib/index.ts';
import { register as auditList } from './commands/audit-list.ts';
import { register as backup } from './commands/backup.ts';
import { register as instanceCreate } from './commands/instance-create.ts';
import { register as instanceList } from './commands/instance-list.ts';
import { register as instanceResume } from './commands/instance-resume.ts';
import { register as instanceShow } from './commands/instance-show.ts';
import { register as instanceStop } from './commands/instance-stop.ts';
import { register as instanceSuspend } from './commands/instance-suspend.ts';
import { register as jobList } from './commands/job-list.ts';
import { register as jobShow } from './commands/job-show.ts';
import { register as jobWait } from './commands/job-wait.ts';
import { register as grants } from './commands/grants.ts';
import { register as pointDelete } from './commands/point-delete.ts';
import { register as pointUndelete } from './commands/point-undelete.ts';
import { register as pointList } from './commands/point-list.ts';
import { register as pointShow } from './commands/point-show.ts';
import { register as restore } from './commands/restore.ts';
import { register as restoreFiles } from './commands/restore-files.ts';
import { register as policyCreate } from './commands/policy-create.ts';
import { register as policyList } from './commands/policy-list.ts';
import { register as policyShow } from './commands/policy-show.ts';
import { register as secretDelete } from './commands/secret-delete.ts';
import { register as secretList } from './commands/secret-list.ts';
import { register as secretSet } from './commands/secret-set.ts';
import { register as tokenCreate } from './commands/token-create.ts';
import { register as tokenList } from './commands/token-list.ts';
import { register as tokenRevoke } from './commands/token-revoke.ts';
import { register as instanceValidate } from './commands/instance-validate.ts';
import { register as vaultAttach } from './commands/vault-attach.ts';
import { register as vaultCheck } from './commands/vault-check.ts';
import { register as vaultPrune } from './commands/vault-prune.ts';
import { register as vaultRetention } from './commands/vault-retention.ts';
import { register as vaultCreate } from './commands/vault-create.ts';
import { register as vaultList } from './commands/vault-list.ts';
import { register as vaultShow } from './commands/vault-show.ts';
import { register as whoami } from './commands/whoami.ts';

export interface MainOptions {
  /** Adds commands that live outside the CLI module (the composition root adds `serve`). */
  extend?: (program: Command) => void;
}

export function buildProgram(opts: MainOptions = {}): Command {
  const program = new Command();
  program
    .name('pgvault')
    .description('An encrypted, deduplicating backup vault for PostgreSQL')
    .version('0.1.0')
    .option('--url <url>', 'the pgvault server (default: PGVAULT_URL, <data-dir>/server.url, http://127.0.0.1:8432)')
    .option('--token <token>', 'API token (prefer PGVAULT_TOKEN: argv is visible to other users; default: <data-dir>/admin.token)')
    .option('--data-dir <dir>', 'the server data directory (default: PGVAULT_DATA_DIR or ~/.local/share/pgvault)')
    .addOption(new Option('--output <format>', 'json for scripts, table for people').choices(['json', 'table']).default('table'))
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      writeOut: (s) => process.stdout.write(s),
      outputError: (s, write) => write(`ERROR [UserErrorInvalidInput]: ${s.replace(/^error: /, '')}`),
    });

  const vault = program.command('vault').description('vaults: create, list, show, attach, check, retention, prune');
  vaultCreate(vault);
  vaultList(vault);
  vaultShow(vault);
  vaultAttach(vault);
  vaultCheck(vault);
  vaultRetention(vault);
  vaultPrune(vault);
  const secret = program.command('secret').description("pgvault's own secrets: set (from stdin), list, delete");
  secretSet(secret);
  secretList(secret);
  secretDelete(secret);
  const policy = program.command('policy').description('backup policies: create, list, show');
  policyCreate(policy);
  policyList(policy);
  policyShow(policy);
  const instance = program.command('instance').description('backup instances: create, list, show, validate, stop, suspend, resume');
  instanceCreate(instance);
  instanceList(instance);
  instanceShow(instance);
  instanceValidate(instance);
  instanceStop(instance);
  instanceSuspend(instance);
  instanceResume(instance);
  backup(program);
  const job = program.command('job').description('jobs: list, show, wait');
  jobList(job);
  jobShow(job);
  jobWait(job);
  const point = program.command('point').description('recovery points: list, show, delete, undelete');
  pointList(point);
  pointShow(point);
  pointDelete(point);
  pointUndelete(point);
  restore(program);
  restoreFiles(program);
  grants(program);
  const token = program.command('token').description('API tokens: create, list, revoke');
  tokenCreate(token);
  tokenList(token);
  tokenRevoke(token);
  whoami(program);
  const audit = program.command('audit').description('the audit log: list');
  auditList(audit);

  opts.extend?.(program);
  // Subcommands inherit exitOverride and the output settings only when set before they are added; set them on all.
  const visit = (c: Command) => {
    c.exitOverride();
    c.configureOutput(program.configureOutput());
    c.commands.forEach(visit);
  };
  program.commands.forEach(visit);
  return program;
}

export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  const program = buildProgram(opts);
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
