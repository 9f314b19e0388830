/** Round trips across majors with the realistic fixture: backup with pg_dump 15 from PostgreSQL 13, 14 and 15,
 *  restore into newer (and equal) majors — 13→17 serially, 14→16 and 15→17 in parallel without spool, 15→15
 *  with -j2 — and prove the restored database identical to the source with the comparison helper (schema,
 *  owners, ACLs, data, large objects, sequences). The fixture roles are created on the targets beforehand, so
 *  nothing may differ; a separate case restores as a CREATEDB role without them and reports them missing. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup, runRestore, type BackupResult } from '../../src/operations/index.ts';
import { discoverClients, parsePgUrl, type PgClientSet } from '../../src/postgres/index.ts';
import { FilesystemBackend } from '../../src/storage/index.ts';
import { Vault, type ManifestId } from '../../src/vault/index.ts';
import { assertDatabasesEqual, compareDatabases } from '../support/compare-databases.ts';
import { buildFixture, fixtureRoles, startCluster, type PgCluster, type PgMajor } from '../support/index.ts';

const clusters = new Map<PgMajor, PgCluster>();
let work: string;
let vault: Vault;
let clients: PgClientSet;
const points = new Map<PgMajor, BackupResult>();

beforeAll(async () => {
  const majors: PgMajor[] = [13, 14, 15, 16, 17];
  // Two at a time: the machine has two cores.
  for (let i = 0; i < majors.length; i += 2) {
    const started = await Promise.all(majors.slice(i, i + 2).map((major) => startCluster({ major })));
    for (const c of started) clusters.set(c.major, c);
  }
  work = mkdtempSync(join(tmpdir(), 'pgvault-br-versions-'));
  vault = await Vault.create(new FilesystemBackend(join(work, 'vault')), { passphrase: 'correct horse battery', kdf: { N: 1 << 10, r: 8, p: 1 } });
  clients = await discoverClients();
  for (const major of [16, 17, 15] as PgMajor[]) {
    for (const role of fixtureRoles) await clusters.get(major)!.query(`CREATE ROLE ${role} NOLOGIN`).catch(() => undefined);
  }
  for (const major of [13, 14, 15] as PgMajor[]) {
    const c = clusters.get(major)!;
    await buildFixture(c, 'fixture', { scale: 1 });
    points.set(major, await runBackup(vault, parsePgUrl(c.url('fixture')), { database: 'fixture', clients }));
  }
});

afterAll(async () => {
  await Promise.all([...clusters.values()].map((c) => c.stop()));
  await vault?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Differences that are the newer server's catalog, not the restore: PostgreSQL 17 records a domain's NOT NULL
 *  as a named constraint; 14+ creates multirange constructors for every range type; 14+ shows procedure argument
 *  modes ("IN before"). Anything else must be equal. */
function catalogArtifact(diff: string, from: PgMajor, to: PgMajor): boolean {
  if (to >= 17 && from < 17 && /^constraint \S+_not_null on domain .*: only in b \(b: n: NOT NULL\)$/.test(diff)) return true;
  if (to >= 14 && from < 14) {
    if (/^(owner of |privilege EXECUTE on )?function app\.float_multirange\(.*only in b/.test(diff)) return true;
    if (/^(owner of |privilege EXECUTE on )?(procedure|function) app\.forget_sessions\((IN )?[^)]*\)(: | to PUBLIC: )(only in b|missing in b)/.test(diff)) return true;
  }
  return false;
}

const cases: { from: PgMajor; to: PgMajor; jobs: number; name: string }[] = [
  { from: 13, to: 17, jobs: 1, name: 'from13' },
  { from: 14, to: 16, jobs: 2, name: 'from14' },
  { from: 15, to: 17, jobs: 2, name: 'from15' },
  { from: 15, to: 15, jobs: 2, name: 'fixture_j2' },
];

describe('round trips across majors with the realistic fixture', () => {
  for (const c of cases) {
    it(`${c.from} → ${c.to} (jobs ${c.jobs}) restores an identical database`, async () => {
      const src = clusters.get(c.from)!;
      const dst = clusters.get(c.to)!;
      const report = await runRestore(vault, points.get(c.from)!.manifest.id as ManifestId, 'fixture', parsePgUrl(dst.url('postgres')), {
        newDatabase: c.name,
        jobs: c.jobs,
        clients,
      });
      expect(report.missingRoles).toEqual([]);
      expect(report.skippedAcls).toEqual([]);
      expect(report.ownersKept).toBe(true);
      if (c.jobs > 1) {
        // Every table's rows went over a session (COPY), the small tables' too; only the large objects took a
        // pg_restore run of their own.
        expect(report.log).toContain('pgvault: processing data for table "public.settings"');
        expect(report.log.filter((l) => /^pg_restore: processing data for table/.test(l))).toEqual([]);
        expect(report.log.some((l) => /^pg_restore: (restoring large object|processing item \d+ BLOBS|processing BLOBS)/.test(l))).toBe(true);
      }
      const cmp = await compareDatabases({ cluster: src, database: 'fixture' }, { cluster: dst, database: c.name });
      const unexplained = cmp.differences.filter((d) => !catalogArtifact(d, c.from, c.to));
      expect(unexplained, `${c.from} → ${c.to}`).toEqual([]);
    });
  }

  it('15 → 16 as a CREATEDB role lacking the fixture roles: reports them and the ACLs skipped, data identical', async () => {
    const src = clusters.get(15)!;
    const dst = clusters.get(16)!;
    await dst.dropDatabase('from14');
    await dst.query(`DROP ROLE IF EXISTS ${fixtureRoles.join(', ')}`);
    await dst.createRole('restorer', 'restorer-pw-1', 'LOGIN CREATEDB');
    const report = await runRestore(vault, points.get(15)!.manifest.id as ManifestId, 'fixture', parsePgUrl(dst.url('postgres', 'restorer', 'restorer-pw-1')), {
      newDatabase: 'as_restorer',
      jobs: 2,
      clients,
    });
    expect(report.missingRoles).toEqual([...fixtureRoles].sort());
    expect(report.skippedAcls.some((s) => s.desc === 'ACL' && s.missingRoles.includes('fixture_reader'))).toBe(true);
    expect(report.ownersKept).toBe(false);
    await assertDatabasesEqual({ cluster: src, database: 'fixture' }, { cluster: dst, database: 'as_restorer' }, { ignoreOwners: true, ignoreMissingRoles: true });
  });
});
