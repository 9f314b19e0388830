import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverClients, parseToolVersion, pickClient, type PgClient, type PgClientSet } from './discover-clients.ts';
import { UserErrorPgClientNotFound, UserErrorPgDumpTooOld } from './pg-errors.ts';

const client = (tool: PgClient['tool'], major: number, minor = 0): PgClient => ({ tool, path: `/opt/pg${major}/bin/${tool}`, version: `${major}.${minor}`, major, minor });

describe('parseToolVersion', () => {
  it('reads Debian, plain and beta version lines', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n')).toEqual({ tool: 'pg_dump', version: '15.18', major: 15, minor: 18 });
    expect(parseToolVersion('pg_restore (PostgreSQL) 13.23')).toEqual({ tool: 'pg_restore', version: '13.23', major: 13, minor: 23 });
    expect(parseToolVersion('pg_dump (PostgreSQL) 18beta1')).toEqual({ tool: 'pg_dump', version: '18beta1', major: 18, minor: 0 });
    expect(parseToolVersion('psql (PostgreSQL) 15.18')).toBeUndefined();
  });
});

describe('pickClient', () => {
  const set: PgClientSet = { clients: [client('pg_dump', 17, 2), client('pg_dump', 15, 18), client('pg_dump', 15, 3), client('pg_restore', 15, 18)], searchedDirs: ['/x'] };

  it('picks the oldest major at least the server, newest minor within it', () => {
    expect(pickClient(set, 'pg_dump', 13)).toMatchObject({ major: 15, minor: 18 });
    expect(pickClient(set, 'pg_dump', 15)).toMatchObject({ major: 15, minor: 18 });
    expect(pickClient(set, 'pg_dump', 16)).toMatchObject({ major: 17 });
    expect(pickClient(set, 'pg_dump', 17)).toMatchObject({ major: 17 });
  });

  it('refuses a newer server with UserErrorPgDumpTooOld naming the version and how to install it', () => {
    const only15: PgClientSet = { clients: [client('pg_dump', 15, 18)], searchedDirs: [] };
    for (const major of [16, 17]) {
      const err = (() => {
        try {
          pickClient(only15, 'pg_dump', major);
        } catch (e) {
          return e as UserErrorPgDumpTooOld;
        }
        throw new Error('no error');
      })();
      expect(err).toBeInstanceOf(UserErrorPgDumpTooOld);
      expect(err.message).toContain(`pg_dump ${major}`);
      expect(err.hint).toContain(`postgresql-client-${major}`);
      expect(err.details).toMatchObject({ serverMajor: major });
    }
  });

  it('lets an older pg_restore write into a newer server, and reports a tool that is missing altogether', () => {
    expect(pickClient(set, 'pg_restore', 17)).toMatchObject({ major: 15 });
    expect(() => pickClient(set, 'pg_dumpall', 15)).toThrow(UserErrorPgClientNotFound);
  });
});

describe('discoverClients', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgvault-discover-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds /usr/lib/postgresql/15/bin and a PGVAULT_PG_BIN directory, and prefers the closest major', async () => {
    // A directory as PGVAULT_PG_BIN would name it, holding a client that reports version 18.
    const fake = join(dir, 'pg_dump');
    writeFileSync(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 18.1"\n');
    chmodSync(fake, 0o755);
    const set = await discoverClients({ env: { PATH: '/usr/bin:/bin', PGVAULT_PG_BIN: dir } });
    expect(set.searchedDirs.slice(0, 2)).toEqual([dir, '/usr/lib/postgresql/15/bin']);
    expect(set.clients.find((c) => c.path === fake)).toMatchObject({ tool: 'pg_dump', major: 18, minor: 1 });
    const debian = set.clients.filter((c) => c.path.startsWith('/usr/lib/postgresql/15/bin/'));
    expect(debian.map((c) => c.tool).sort()).toEqual(['pg_dump', 'pg_dumpall', 'pg_restore']);
    // /usr/bin/pg_dump is Debian's pg_wrapper: skipped, so each real binary appears once.
    expect(set.clients.filter((c) => c.tool === 'pg_dump' && c.major === 15)).toHaveLength(1);
    expect(pickClient(set, 'pg_dump', 15).path).toBe('/usr/lib/postgresql/15/bin/pg_dump');
    expect(pickClient(set, 'pg_dump', 16).path).toBe(fake);
  });
});
