/** sslmode against a real PostgreSQL 15 with SSL on (a throw-away CA made with openssl): require encrypts,
 *  verify-ca / verify-full check the certificate in pgvault's own connections and in pg_dump alike, and a wrong
 *  CA fails with UserErrorSslVerificationFailed. */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  discoverClients,
  parsePgUrl,
  pickClient,
  spawnPgDump,
  UserErrorSslVerificationFailed,
  type PgClient,
  type PgConnectionConfig,
} from '../../src/postgres/index.ts';
import { startCluster, type PgCluster } from '../support/pg-cluster.ts';

let cluster: PgCluster;
let pgDump: PgClient;
let base: PgConnectionConfig;
const dir = mkdtempSync(join(tmpdir(), 'pgvault-ssl-test-'));
const ca = join(dir, 'ca.crt');
const otherCa = join(dir, 'other-ca.crt');

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

async function sslInUse(cfg: PgConnectionConfig): Promise<boolean> {
  const c = await connect(cfg);
  try {
    const r = await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return r.rows[0]?.ssl === true;
  } finally {
    await c.end();
  }
}

async function dumpBytes(cfg: PgConnectionConfig): Promise<number> {
  const proc = spawnPgDump(cfg, { client: pgDump });
  let n = 0;
  for await (const c of proc.stdout as Readable) n += (c as Buffer).length;
  await proc.done;
  return n;
}

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pgvault test CA');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=some other CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    for (const f of ['server.key', 'server.crt']) chownSync(join(dir, f), uid, gid);
  }
  chmodSync(join(dir, 'server.key'), 0o600);
  chmodSync(dir, 0o755);
  cluster = await startCluster({ major: 15, settings: { ssl: 'on', ssl_cert_file: join(dir, 'server.crt'), ssl_key_file: join(dir, 'server.key') } });
  pgDump = pickClient(await discoverClients(), 'pg_dump', 15);
  await cluster.createDatabase('app');
  await cluster.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('over tls')", [], 'app');
  base = parsePgUrl(cluster.url('app'));
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sslmode on a server with SSL', () => {
  it('prefer (the default) and require encrypt; disable does not', async () => {
    expect(await sslInUse(base)).toBe(true);
    expect(await sslInUse({ ...base, options: { sslmode: 'require' } })).toBe(true);
    expect(await sslInUse({ ...base, options: { sslmode: 'disable' } })).toBe(false);
  });

  it('verify-full and verify-ca accept the right CA, in connect() and in pg_dump', async () => {
    for (const sslmode of ['verify-full', 'verify-ca']) {
      const cfg = parsePgUrl(`${cluster.url('app')}?sslmode=${sslmode}&sslrootcert=${encodeURIComponent(ca)}`);
      expect(await sslInUse(cfg)).toBe(true);
      expect(await dumpBytes(cfg)).toBeGreaterThan(100);
    }
  });

  it('a certificate from another CA fails with UserErrorSslVerificationFailed, in connect() and in pg_dump', async () => {
    const cfg = { ...base, options: { sslmode: 'verify-ca', sslrootcert: otherCa } };
    const err = await connect(cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserErrorSslVerificationFailed);
    const proc = spawnPgDump(cfg, { client: pgDump });
    const dumpErr = await proc.done.catch((e: unknown) => e);
    expect(dumpErr).toBeInstanceOf(UserErrorSslVerificationFailed);
    expect((dumpErr as UserErrorSslVerificationFailed).hint).toMatch(/sslrootcert/);
  });

  it('prefer falls back to a plain connection when the server refuses SSL sessions (hostnossl only), as libpq and pg_dump do', async () => {
    const hba = join(cluster.dataDir, 'pg_hba.conf');
    const before = readFileSync(hba, 'utf8');
    writeFileSync(hba, 'local all all trust\nhostnossl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all ::1/128 scram-sha-256\n');
    try {
      await cluster.query('SELECT pg_reload_conf()');
      expect(await sslInUse(base)).toBe(false);
      expect(await dumpBytes(base)).toBeGreaterThan(100);
      // require still refuses rather than go plain.
      expect(await connect({ ...base, options: { sslmode: 'require' } }).catch((e: unknown) => e)).toBeInstanceOf(Error);
    } finally {
      writeFileSync(hba, before);
      await cluster.query('SELECT pg_reload_conf()');
    }
  });
});
