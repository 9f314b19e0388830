/** A server whose lc_messages is German: pg_dump prints the server's FATAL in German and no SQLSTATE, so its text
 *  alone maps to nothing better than UserErrorPgToolFailed; pgvault's probe connection (which gets the SQLSTATE)
 *  still gives the coded error. Needs the de_DE.UTF-8 locale (made with localedef when missing and running as
 *  root; .ci/run makes sure of it) and the Debian PostgreSQL 15 server with its message catalogues. */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  discoverClients,
  parsePgUrl,
  pickClient,
  preflight,
  spawnPgDump,
  UserErrorAuthenticationFailed,
  UserErrorDatabaseNotFound,
  UserErrorLockTimeout,
  UserErrorPgToolFailed,
  type PgClient,
} from '../../src/postgres/index.ts';
import { startCluster, type PgCluster } from '../support/pg-cluster.ts';

const locale = 'de_DE.UTF-8';

function ensureLocale(): void {
  const has = (): boolean => /^de_DE\.utf-?8$/im.test(spawnSync('locale', ['-a'], { encoding: 'utf8' }).stdout ?? '');
  if (has()) return;
  const made = spawnSync('localedef', ['-i', 'de_DE', '-f', 'UTF-8', locale], { encoding: 'utf8' });
  if (!has()) throw new Error(`the ${locale} locale is missing and localedef could not make it (run as root, or install the locales package): ${made.stderr}`);
}

let cluster: PgCluster;
let pgDump: PgClient;

beforeAll(async () => {
  ensureLocale();
  cluster = await startCluster({ major: 15, settings: { lc_messages: locale } });
  await cluster.createRole('dumper', 'richtiges-Passwort-1', 'LOGIN');
  await cluster.createDatabase('app');
  pgDump = pickClient(await discoverClients(), 'pg_dump', 15);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('a server that speaks German', () => {
  it('a wrong password is UserErrorAuthenticationFailed, though pg_dump printed it in German', async () => {
    const cfg = { ...parsePgUrl(cluster.url('app', 'dumper', 'richtiges-Passwort-1')), password: 'falsches-Passwort-2' };
    const dump = spawnPgDump(cfg, { client: pgDump });
    dump.stdout.resume();
    const err = await dump.done.catch((e: unknown) => e);
    expect(dump.log.join('\n')).toMatch(/Passwort-Authentifizierung/);
    expect(err).toBeInstanceOf(UserErrorAuthenticationFailed);
    expect(JSON.stringify((err as UserErrorAuthenticationFailed).toJSON())).not.toContain('falsches-Passwort-2');
  });

  it("pre-flight warns, with the fix for this role alone", async () => {
    await cluster.query('GRANT pg_read_all_data TO dumper');
    const report = await preflight(parsePgUrl(cluster.url('app', 'dumper', 'richtiges-Passwort-1')));
    expect(report.warnings.join('\n')).toContain(`lc_messages = '${locale}'`);
    expect(report.warnings.join('\n')).toContain(`ALTER ROLE "dumper" SET lc_messages = 'C';`);
    // Once set, the warning goes.
    await cluster.query(`ALTER ROLE dumper SET lc_messages = 'C'`);
    try {
      expect((await preflight(parsePgUrl(cluster.url('app', 'dumper', 'richtiges-Passwort-1')))).warnings.join('\n')).not.toContain('lc_messages');
    } finally {
      await cluster.query('ALTER ROLE dumper RESET lc_messages');
    }
  });

  it('a lock timeout in German gets the fix in its hint; with lc_messages = C for the role it is UserErrorLockTimeout', async () => {
    await cluster.query('CREATE TABLE IF NOT EXISTS gesperrt (n int); GRANT SELECT ON gesperrt TO dumper', [], 'app');
    const cfg = parsePgUrl(cluster.url('app', 'dumper', 'richtiges-Passwort-1'));
    const holder = await cluster.connect('app');
    const dumpWhileLocked = async (): Promise<unknown> => {
      const dump = spawnPgDump(cfg, { client: pgDump, lockWaitTimeoutMs: 300 });
      dump.stdout.resume();
      return dump.done.catch((e: unknown) => e);
    };
    try {
      await holder.query('BEGIN; LOCK TABLE gesperrt IN ACCESS EXCLUSIVE MODE');
      const german = await dumpWhileLocked();
      expect(german).toBeInstanceOf(UserErrorPgToolFailed);
      expect((german as UserErrorPgToolFailed).message).toMatch(/FEHLER/);
      expect((german as UserErrorPgToolFailed).hint).toContain(`ALTER ROLE "dumper" SET lc_messages = 'C';`);
      await cluster.query(`ALTER ROLE dumper SET lc_messages = 'C'`);
      expect(await dumpWhileLocked()).toBeInstanceOf(UserErrorLockTimeout);
    } finally {
      await holder.end();
      await cluster.query('ALTER ROLE dumper RESET lc_messages');
    }
  });

  it('an unknown database is UserErrorDatabaseNotFound, though pg_dump printed it in German', async () => {
    const dump = spawnPgDump(parsePgUrl(cluster.url('fehlt', 'dumper', 'richtiges-Passwort-1')), { client: pgDump });
    dump.stdout.resume();
    const err = await dump.done.catch((e: unknown) => e);
    expect(dump.log.join('\n')).toMatch(/existiert nicht/);
    expect(err).toBeInstanceOf(UserErrorDatabaseNotFound);
  });
});
