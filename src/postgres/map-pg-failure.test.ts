/** The stderr → coded error mapping, on message texts captured from the real pg_dump / pg_restore 15 against
 *  PostgreSQL 15, 16 and 17 servers (and the server's own out-of-disk messages). */
import { describe, expect, it } from 'vitest';
import { mapPgFailureText, mapPgToolExit, type PgActor } from './map-pg-failure.ts';
import {
  TransientErrorConnectionLost,
  TransientErrorServerUnavailable,
  UserErrorAuthenticationFailed,
  UserErrorDatabaseNotFound,
  UserErrorLockTimeout,
  UserErrorMissingDBPermissions,
  UserErrorPgDumpTooOld,
  UserErrorPgToolFailed,
  UserErrorSslUnavailable,
  UserErrorTargetOutOfDisk,
} from './pg-errors.ts';
import { missingRoles, onlyMissingRoleErrors } from './spawn-pg-restore.ts';

const cfg = { host: '127.0.0.1', port: 43641, user: 'backup', database: 'app', password: 'Sekret-Pw-1' };
const map = (lines: string[], actor: PgActor = 'pg_dump') =>
  mapPgToolExit({ ctx: { actor, cfg, clientVersion: '15.18' }, exitCode: 1, signal: null, lines });

describe('mapPgToolExit on real pg_dump 15 / pg_restore 15 output', () => {
  it.each([
    ['auth', ['pg_dump: error: connection to server at "127.0.0.1", port 43641 failed: FATAL:  password authentication failed for user "backup"', 'password retrieved from file "/tmp/pgvault-pgpass-zQmoPs/pgpass"'], UserErrorAuthenticationFailed],
    ['no pg_hba entry', ['pg_dump: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "backup", database "app", no encryption'], UserErrorAuthenticationFailed],
    ['unknown database', ['pg_dump: error: connection to server at "127.0.0.1", port 43641 failed: FATAL:  database "nodb" does not exist'], UserErrorDatabaseNotFound],
    ['sslmode=require', ['pg_dump: error: connection to server at "127.0.0.1", port 43641 failed: server does not support SSL, but SSL was required'], UserErrorSslUnavailable],
    ['refused', ['pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused', '\tIs the server running on that host and accepting TCP/IP connections?'], TransientErrorServerUnavailable],
    ['version mismatch', ['pg_dump: error: aborting because of server version mismatch', 'pg_dump: detail: server version: 16.14; pg_dump version: 15.18 (Debian 15.18-0+deb12u1)'], UserErrorPgDumpTooOld],
    ['table privilege', ['pg_dump: error: query failed: ERROR:  permission denied for table t', 'pg_dump: detail: Query was: LOCK TABLE public.t IN ACCESS SHARE MODE'], UserErrorMissingDBPermissions],
    ['large object privilege', ['pg_dump: error: could not open large object 16388: ERROR:  permission denied for large object 16388'], UserErrorMissingDBPermissions],
    ['lock wait timeout', ['pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout', 'pg_dump: detail: Query was: LOCK TABLE public.b_small IN ACCESS SHARE MODE'], UserErrorLockTimeout],
    ['backend terminated mid-COPY', ['pg_dump: error: Dumping the contents of table "a_big" failed: PQgetCopyData() failed.', 'pg_dump: detail: Error message from server: server closed the connection unexpectedly', '\tThis probably means the server terminated abnormally', '\tbefore or while processing the request.', 'pg_dump: detail: Command was: COPY public.a_big (id, pad) TO stdout;'], TransientErrorConnectionLost],
    ['terminated while idle', ['pg_dump: error: query failed: FATAL:  terminating connection due to administrator command', 'server closed the connection unexpectedly'], TransientErrorConnectionLost],
    ['standby conflict', ['pg_dump: error: Dumping the contents of table "events" failed: PQgetResult() failed.', 'pg_dump: detail: Error message from server: ERROR:  canceling statement due to conflict with recovery', 'DETAIL:  User query might have needed to see row versions that must be removed.', 'pg_dump: detail: Command was: COPY public.events (id) TO stdout;'], TransientErrorConnectionLost],
    ['socket server down (14+)', ['pg_dump: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: No such file or directory', '\tIs the server running locally and accepting connections on that socket?'], TransientErrorServerUnavailable],
    ['socket server down (13)', ['pg_dump: error: could not connect to server: No such file or directory', '\tIs the server running locally and accepting', '\tconnections on Unix domain socket "/run/postgresql/.s.PGSQL.5432"?'], TransientErrorServerUnavailable],
    ['cut connection', ['pg_dump: error: query failed: server closed the connection unexpectedly', '\tThis probably means the server terminated abnormally', '\tbefore or while processing the request.'], TransientErrorConnectionLost],
  ] as const)('%s', (_name, lines, expected) => {
    const err = map([...lines]);
    expect(err).toBeInstanceOf(expected);
    expect(err.hint).toBeTruthy();
    expect(JSON.stringify(err.toJSON())).not.toContain('Sekret-Pw-1');
  });

  it('tells a standby conflict apart: the hint names hot_standby_feedback', () => {
    expect(map(['pg_dump: error: query failed: ERROR:  canceling statement due to conflict with recovery']).hint).toContain('hot_standby_feedback');
  });

  it('names the pg_dump version to install on a version mismatch', () => {
    const err = map(['pg_dump: error: aborting because of server version mismatch', 'pg_dump: detail: server version: 17.10; pg_dump version: 15.18']);
    expect(err.message).toContain('pg_dump 17');
    expect(err.hint).toContain('postgresql-client-17');
  });

  it.each([
    ['could not extend file (real, PostgreSQL 17 on a full tmpfs)', ['pg_restore: error: COPY failed for table "orders": ERROR:  could not extend file "pg_tblspc/16401/PG_17_202406281/16402/16409" with FileFallocate(): No space left on device', 'HINT:  Check free disk space.']],
    ['wrote only', ['pg_restore: error: could not execute query: ERROR:  could not extend file "base/16390/16391": wrote only 4096 of 8192 bytes at block 1234', 'HINT:  Check free disk space.', 'Command was: CREATE INDEX i ON public.t USING btree (v);']],
    ['temp file', ['pg_restore: error: could not execute query: ERROR:  could not write to file "base/pgsql_tmp/pgsql_tmp1234.0": No space left on device']],
  ])('maps out-of-disk on the target during a restore (%s)', (_name, lines) => {
    const err = map(lines, 'pg_restore');
    expect(err).toBeInstanceOf(UserErrorTargetOutOfDisk);
    expect(err.hint).toMatch(/space/);
  });

  it('falls back to UserErrorPgToolFailed with the tool\'s error lines, and to a signal message', () => {
    const err = map(['pg_dump: error: query failed: ERROR:  could not access file "$libdir/postgis-3": No such file or directory']);
    expect(err).toBeInstanceOf(UserErrorPgToolFailed);
    expect(err.message).toContain('postgis-3');
    expect(err.details.errors).toEqual(['pg_dump: error: query failed: ERROR:  could not access file "$libdir/postgis-3": No such file or directory']);
    const killed = mapPgToolExit({ ctx: { actor: 'pg_dump', cfg }, exitCode: null, signal: 'SIGPIPE', lines: [] });
    expect(killed.message).toContain('killed by SIGPIPE');
    expect(err.hint).not.toContain('lc_messages');
  });

  it.each([
    ['French, pg_restore', 'pg_restore', "pg_restore: error: could not execute query: ERREUR:  n'a pas pu étendre le fichier « base/16384/16385 » : Aucun espace disponible sur le périphérique"],
    ['German, pg_dump', 'pg_dump', 'pg_dump: error: query failed: FEHLER:  storniere Anfrage wegen Zeitüberschreitung der Anfrage'],
    ['Japanese, pg_restore', 'pg_restore', 'pg_restore: error: could not execute query: エラー:  ロックのタイムアウトのためステートメントをキャンセルしています'],
  ] as const)('a server error in another language (%s) is told apart and its hint gives the fix', (_name, actor, line) => {
    const err = map([line], actor);
    expect(err).toBeInstanceOf(UserErrorPgToolFailed);
    expect(err.hint).toContain(`ALTER ROLE "backup" SET lc_messages = 'C';`);
  });
});

describe('mapPgFailureText for node-postgres errors (SQLSTATE)', () => {
  it('uses the SQLSTATE when the text alone says little', () => {
    const ctx = { actor: 'connection' as const, cfg };
    expect(mapPgFailureText('password authentication failed for user "backup"', ctx, '28P01')).toBeInstanceOf(UserErrorAuthenticationFailed);
    expect(mapPgFailureText('database "x" does not exist', ctx, '3D000')).toBeInstanceOf(UserErrorDatabaseNotFound);
    expect(mapPgFailureText('permission denied for database "app"', ctx, '42501')).toBeInstanceOf(UserErrorMissingDBPermissions);
    expect(mapPgFailureText('sorry, too many clients already', ctx, '53300')).toBeInstanceOf(TransientErrorServerUnavailable);
    expect(mapPgFailureText('connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)', ctx)).toBeInstanceOf(TransientErrorServerUnavailable);
    expect(mapPgFailureText('The server does not support SSL connections', ctx)).toBeInstanceOf(UserErrorSslUnavailable);
    expect(mapPgFailureText('something else entirely', ctx)).toBeUndefined();
  });
});

describe('missing roles in a pg_restore log', () => {
  const errors = [
    'pg_restore: error: could not execute query: ERROR:  role "ghost" does not exist',
    'Command was: ALTER TABLE public.t OWNER TO ghost;',
    'pg_restore: error: could not execute query: ERROR:  role "nolo" does not exist',
    'Command was: GRANT USAGE ON SCHEMA s TO nolo;',
    'pg_restore: error: could not execute query: ERROR:  role "nolo" does not exist',
    'Command was: GRANT SELECT ON TABLE public.t TO nolo;',
    'pg_restore: warning: errors ignored on restore: 3',
  ];
  it('lists each missing role once and tells role-only failures from others', () => {
    expect(missingRoles(errors)).toEqual(['ghost', 'nolo']);
    expect(onlyMissingRoleErrors(errors)).toBe(true);
    expect(onlyMissingRoleErrors([...errors, 'pg_restore: error: could not execute query: ERROR:  relation "t" already exists'])).toBe(false);
  });
});
