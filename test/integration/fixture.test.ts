/** The fixture builds on both ends of the supported range (13, 15, 17) with every awkward feature, builds
 *  deterministically, and the comparison helper proves copies equal and catches each planted difference by
 *  name; across majors (a pg_dump 15 → pg_restore 16 round trip onto a server without the fixture's roles) it
 *  is equal once missing roles and owners are ignored, and lists them when they are not. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertDatabasesEqual,
  buildFixture,
  churn,
  compareDatabases,
  fixtureLargeObjects,
  startCluster,
  type FixtureInfo,
  type PgCluster,
  type PgMajor,
} from '../support/index.ts';

const clusters = new Map<PgMajor, PgCluster>();
const infos = new Map<PgMajor, FixtureInfo>();
let workDir: string;

function main(): PgCluster {
  const c = clusters.get(15);
  if (!c) throw new Error('PostgreSQL 15 did not start');
  return c;
}

/** Runs a PostgreSQL client tool with the password in its environment, never in argv. */
function runTool(cmd: string, args: string[], password: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, PGPASSWORD: password }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let copies = 0;
/** A fresh copy of the 15 fixture, changed by `plant` (SQL run in the copy). */
async function plantedCopy(plant: string): Promise<string> {
  const name = `fx_copy_${++copies}`;
  await main().createDatabase(name, undefined, { template: 'fx' });
  await main().query(plant, [], name);
  return name;
}

async function differencesAfter(plant: string): Promise<string[]> {
  const copy = await plantedCopy(plant);
  const res = await compareDatabases({ cluster: main(), database: 'fx' }, { cluster: main(), database: copy });
  expect(res.equal).toBe(false);
  return res.differences;
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'pgvault-fixture-test-'));
  const started = await Promise.allSettled(([13, 15, 16, 17] as const).map(async (m) => clusters.set(m, await startCluster({ major: m }))));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  // Scale 1 on 15, where the comparison tests run; a quarter on 13 and 17 proves the fixture builds on both ends.
  await Promise.all(([13, 15, 17] as const).map(async (m) => infos.set(m, await buildFixture(clusters.get(m)!, 'fx', { scale: m === 15 ? 1 : 0.25 }))));
});

afterAll(async () => {
  await Promise.allSettled([...clusters.values()].map((c) => c.stop()));
  rmSync(workDir, { recursive: true, force: true });
});

describe.each([13, 15, 17] as const)('the fixture on PostgreSQL %i', (major) => {
  it('has every awkward feature and no skipped extension', async () => {
    const c = clusters.get(major)!;
    const info = infos.get(major)!;
    expect(info.skippedExtensions).toEqual([]);
    // A few MB of data at scale 1 on top of an empty database's ~7.5 MB.
    expect(info.sizeBytes).toBeGreaterThan(info.scale === 1 ? 15_000_000 : 9_000_000);
    const [f] = await c.query<Record<string, boolean>>(
      `SELECT
        EXISTS (SELECT FROM pg_namespace WHERE nspname = 'Straße & Co') AS odd_schema,
        (SELECT count(*) FROM pg_namespace WHERE nspname IN ('app', 'archive', 'audit', 'Straße & Co')) = 4 AS schemas,
        (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname IN ('app', 'Straße & Co') AND t.typtype = 'e') = 2 AS enums,
        EXISTS (SELECT FROM pg_type WHERE typname = 'email' AND typtype = 'd') AS domain,
        EXISTS (SELECT FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid WHERE t.typname = 'address' AND c.relkind = 'c') AS composite,
        EXISTS (SELECT FROM pg_type WHERE typname = 'float_range' AND typtype = 'r') AS range_type,
        (SELECT count(*) FROM pg_attribute WHERE attidentity IN ('a', 'd') AND attrelid::regclass::text LIKE 'app.%') >= 3 AS identity,
        EXISTS (SELECT FROM pg_sequence WHERE seqincrement = -3) AND EXISTS (SELECT FROM pg_sequence WHERE seqincrement = 17) AS odd_sequences,
        (SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'orders' AND p.relkind = 'p') = 4 AS partitions,
        (SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'documents' AND p.relkind = 'r') = 2 AS inheritance,
        EXISTS (SELECT FROM pg_views WHERE schemaname = 'Straße & Co') AND EXISTS (SELECT FROM pg_matviews WHERE NOT ispopulated) AS views,
        (SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE l.lanname = 'plpgsql' AND p.pronamespace::regnamespace::text IN ('app', 'audit')) >= 4 AS functions,
        (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal) >= 3 AS triggers,
        (SELECT count(*) FROM pg_policy) = 3 AND EXISTS (SELECT FROM pg_class WHERE relname = 'tenant_notes' AND relrowsecurity) AS rls,
        EXISTS (SELECT FROM information_schema.role_table_grants WHERE grantee = 'fixture_reader')
          AND EXISTS (SELECT FROM information_schema.column_privileges WHERE grantee = 'fixture_reader') AS grants,
        (SELECT count(*) FROM pg_description WHERE objoid >= 16384) >= 12 AS comments,
        (SELECT count(*) FROM pg_extension WHERE extname IN ('hstore', 'citext', 'pgcrypto')) = 3 AS extensions,
        (SELECT count(DISTINCT format_type(atttypid, NULL)) FROM pg_attribute WHERE attrelid IN ('app.products'::regclass, 'app.customers'::regclass)
           AND format_type(atttypid, NULL) IN ('jsonb', 'text[]', 'tstzrange', 'int4range', 'bytea', 'hstore')) = 6 AS value_types,
        (SELECT count(*) FROM pg_largeobject_metadata) = 3 AND (SELECT count(*) FROM pg_largeobject_metadata WHERE lomacl IS NOT NULL) = 1 AS large_objects,
        EXISTS (SELECT FROM pg_class WHERE relname = 'session_cache' AND relpersistence = 'u') AS unlogged,
        (SELECT count(*) FROM app.empty_table) = 0 AS empty_table,
        (SELECT is_called FROM app.countdown_seq) AND NOT (SELECT is_called FROM app.unused_seq) AS sequence_states`,
      [],
      'fx',
    );
    expect(Object.entries(f ?? {}).filter(([, ok]) => !ok).map(([name]) => name)).toEqual([]);
    const [rows] = await c.query<{ events: string; letters_toasted: boolean }>(
      "SELECT (SELECT count(*) FROM app.events) AS events, (SELECT max(pg_column_size(body)) > 2000 FROM archive.letters) AS letters_toasted",
      [],
      'fx',
    );
    expect(Number(rows?.events)).toBe(info.rowCounts['app.events']);
    expect(rows?.letters_toasted).toBe(true);
  });
});

describe('compareDatabases on PostgreSQL 15', () => {
  it('finds two builds with one seed equal, and a copy made by CREATE DATABASE … TEMPLATE equal', async () => {
    await buildFixture(main(), 'fx_again', { scale: 1 });
    await assertDatabasesEqual({ cluster: main(), database: 'fx' }, { cluster: main(), database: 'fx_again' });
    const copy = await plantedCopy('SELECT 1');
    expect(await compareDatabases({ cluster: main(), database: 'fx' }, { cluster: main(), database: copy })).toEqual({ equal: true, differences: [] });
  });

  it('catches one changed row', async () => {
    const diffs = await differencesAfter("UPDATE app.events SET message = message || '!' WHERE id = 4242");
    expect(diffs).toHaveLength(1);
    expect(diffs[0]).toMatch(/^rows app\.events: differs: a=count=\d+ hash=/);
  });

  it('catches two rows that swapped a value (hashes are of whole rows, not of columns)', async () => {
    const diffs = await differencesAfter(
      'UPDATE app.events e SET amount = o.amount FROM app.events o WHERE (e.id, o.id) IN ((10, 11), (11, 10))',
    );
    expect(diffs).toEqual([expect.stringMatching(/^rows app\.events: differs/)]);
  });

  it('catches one changed row in a partition and one in an inheritance child', async () => {
    const diffs = await differencesAfter(
      "UPDATE app.orders SET total = total + 0.01 WHERE id = (SELECT min(id) FROM app.orders_2024); UPDATE archive.letters SET pages = pages + 1 WHERE id = 200001",
    );
    expect(diffs).toEqual([expect.stringMatching(/^rows app\.orders_2024: differs/), expect.stringMatching(/^rows archive\.letters: differs/)]);
  });

  it('catches changed contents of a materialized view and of an unlogged table', async () => {
    const diffs = await differencesAfter(`
      UPDATE app.orders SET total = total + 1 WHERE id = (SELECT min(id) FROM app.orders_2025);
      REFRESH MATERIALIZED VIEW app.daily_totals;
      DELETE FROM app.session_cache WHERE token = (SELECT min(token) FROM app.session_cache);`);
    expect(diffs.map((d) => d.split(':')[0])).toEqual(['rows app.daily_totals', 'rows app.orders_2025', 'rows app.session_cache']);
  });

  it('catches one missing large object and one changed large object', async () => {
    const missing = await differencesAfter(`SELECT lo_unlink(${fixtureLargeObjects.blob})`);
    expect(missing).toContain(`large object ${fixtureLargeObjects.blob}: missing in b (a: exists)`);
    expect(missing.some((d) => d.startsWith(`large object contents ${fixtureLargeObjects.blob}: missing in b`))).toBe(true);
    expect(missing.every((d) => d.includes(String(fixtureLargeObjects.blob)))).toBe(true);
    const changed = await differencesAfter(`SELECT lo_put(${fixtureLargeObjects.greeting}, 0, '\\x58'::bytea)`);
    expect(changed).toEqual([expect.stringMatching(new RegExp(`^large object contents ${fixtureLargeObjects.greeting}: differs: a=size=\\d+ md5=`))]);
  });

  it('catches one changed sequence value', async () => {
    const diffs = await differencesAfter("SELECT setval('app.order_no_seq', (SELECT last_value FROM app.order_no_seq) + 17)");
    expect(diffs).toEqual([expect.stringMatching(/^sequence value app\.order_no_seq: differs: a=last_value=\d+ is_called=true b=last_value=\d+ is_called=true$/)]);
    const called = await differencesAfter("SELECT setval('app.unused_seq', 42, true)");
    expect(called).toEqual(['sequence value app.unused_seq: differs: a=last_value=42 is_called=false b=last_value=42 is_called=true']);
  });

  it('catches one dropped index (and its comment)', async () => {
    const diffs = await differencesAfter('DROP INDEX app.customers_lower_name_idx');
    expect(diffs).toEqual([
      'comment on index app.customers_lower_name_idx: missing in b (a: Name search)',
      'index app.customers_lower_name_idx: missing in b (a: CREATE INDEX customers_lower_name_idx ON app.customers USING btree (lower(name)))',
    ]);
  });

  it('catches one changed comment', async () => {
    const diffs = await differencesAfter("COMMENT ON TABLE app.customers IS 'People who order; ids step by 8'");
    expect(diffs).toEqual(['comment on table app.customers: differs: a=People who order; ids step by 7 b=People who order; ids step by 8']);
  });

  it('catches schema changes: a column default, a constraint, a function body, a trigger, a policy, a view', async () => {
    const diffs = await differencesAfter(`
      ALTER TABLE app.empty_table ALTER COLUMN label SET DEFAULT 'something';
      ALTER TABLE app.products DROP CONSTRAINT price_not_negative;
      CREATE OR REPLACE FUNCTION app.format_price(amount numeric, currency text DEFAULT 'CHF') RETURNS text LANGUAGE plpgsql STABLE AS $f$
        BEGIN RETURN to_char(amount, 'FM999G999G990D00') || ' ' || currency; END $f$;
      ALTER TABLE app.customers DISABLE TRIGGER customers_touch;
      ALTER POLICY reader_all ON app.tenant_notes USING (tenant <> 'acme');
      CREATE OR REPLACE VIEW app.paid_orders WITH (security_barrier = true) AS
        SELECT id, customer_id, ordered_at, total FROM app.orders WHERE status = 'shipped';`);
    const kinds = diffs.map((d) => d.split(':')[0]);
    expect(kinds).toEqual([
      'column app.empty_table.label',
      'constraint price_not_negative on table app.products',
      'function app.format_price(amount numeric, currency text)',
      'policy reader_all on app.tenant_notes',
      'trigger customers_touch on app.customers',
      'view app.paid_orders',
    ]);
  });

  it('catches a revoked grant and a changed owner', async () => {
    const diffs = await differencesAfter('REVOKE SELECT ON app.events FROM fixture_reader; ALTER TABLE app.empty_table OWNER TO fixture_app');
    expect(diffs).toEqual([
      'owner of table app.empty_table: differs: a=postgres b=fixture_app',
      'privilege SELECT on table app.events to fixture_reader: missing in b (a: granted)',
    ]);
    const copy = `fx_copy_${copies}`;
    expect((await compareDatabases({ cluster: main(), database: 'fx' }, { cluster: main(), database: copy }, { ignoreOwners: true })).differences).toEqual([
      'privilege SELECT on table app.events to fixture_reader: missing in b (a: granted)',
    ]);
  });

  it('assertDatabasesEqual throws and lists the differences', async () => {
    const copy = await plantedCopy("UPDATE \"Straße & Co\".\"Kunden Liste\" SET \"Größe\" = 1 WHERE \"Nr\" = 15");
    await expect(assertDatabasesEqual({ cluster: main(), database: 'fx' }, { cluster: main(), database: copy })).rejects.toThrow(
      /databases differ: .*\(1 differences\):\nrows "Straße & Co"\."Kunden Liste": differs/,
    );
  });
});

describe('churn', () => {
  it('changes about the asked fraction, deterministically per seed, and is caught by the comparison', async () => {
    for (const pattern of ['recent', 'scattered-one', 'scattered-all'] as const) {
      const x = await plantedCopy('SELECT 1');
      const y = await plantedCopy('SELECT 1');
      const rx = await churn(main(), x, { fraction: 0.05, pattern, seed: 7 });
      const ry = await churn(main(), y, { fraction: 0.05, pattern, seed: 7 });
      expect(ry).toEqual(rx);
      const touched = rx.updated + rx.deleted + rx.inserted;
      const events = infos.get(15)!.rowCounts['app.events']!;
      expect(touched).toBeGreaterThan(0.03 * events);
      expect(rx.inserted).toBeGreaterThan(0);
      expect(rx.deleted).toBeGreaterThan(0);
      await assertDatabasesEqual({ cluster: main(), database: x }, { cluster: main(), database: y });
      const vsSource = await compareDatabases({ cluster: main(), database: 'fx' }, { cluster: main(), database: x });
      expect(vsSource.differences).toContainEqual(expect.stringMatching(/^rows app\.events: differs/));
      const oldest = "SELECT string_agg(md5(e::text), ',' ORDER BY id) AS h FROM app.events e WHERE id <= 500";
      const [before] = await main().query<{ h: string }>(oldest, [], 'fx');
      const [after] = await main().query<{ h: string }>(oldest, [], x);
      if (pattern === 'recent') expect(after?.h).toBe(before?.h);
      else expect(after?.h).not.toBe(before?.h);
      if (pattern === 'scattered-all') {
        expect(vsSource.differences).toContainEqual(expect.stringMatching(/^rows "Straße & Co"\."Kunden Liste": differs/));
      } else {
        expect(vsSource.differences.some((d) => d.startsWith('rows "Straße & Co"'))).toBe(false);
      }
      for (const db of [x, y]) await main().dropDatabase(db);
    }
  });

  it('refuses a fraction outside (0, 1], and a second fixture in one database, with coded errors', async () => {
    await expect(churn(main(), 'fx', { fraction: 0, pattern: 'recent', seed: 1 })).rejects.toMatchObject({ code: 'UserErrorInvalidInput' });
    await expect(buildFixture(main(), 'fx')).rejects.toMatchObject({ code: 'UserErrorInvalidInput', message: 'database "fx" already holds a fixture (schema "app" exists)' });
  });
});

describe('across majors: pg_dump 15 of a 13 server → pg_restore into 17, which has the fixture roles', () => {
  it('is equal with no option at all', async () => {
    const source = clusters.get(13)!;
    const target = clusters.get(17)!;
    const dump = join(workDir, 'fx13.dump');
    const dumped = await runTool('pg_dump', ['-Fc', '-h', source.host, '-p', String(source.port), '-U', source.superuser, '-f', dump, 'fx'], source.password);
    expect(dumped).toEqual({ code: 0, stderr: '' });
    await target.createDatabase('fx_from_13');
    const restored = await runTool('pg_restore', ['-h', target.host, '-p', String(target.port), '-U', target.superuser, '-d', 'fx_from_13', dump], target.password);
    expect(restored).toEqual({ code: 0, stderr: '' });
    await assertDatabasesEqual({ cluster: source, database: 'fx' }, { cluster: target, database: 'fx_from_13' });
  });
});

describe('across majors: pg_dump 15 → pg_restore 16 onto a server without the fixture roles', () => {
  it('is equal when missing roles and owners are ignored, and names every grant, policy and owner otherwise', async () => {
    const target = clusters.get(16)!;
    const dump = join(workDir, 'fx.dump');
    const a = main();
    const dumped = await runTool('pg_dump', ['-Fc', '-Z0', '-h', a.host, '-p', String(a.port), '-U', a.superuser, '-f', dump, 'fx'], a.password);
    expect(dumped.stderr).toBe('');
    expect(dumped.code).toBe(0);
    await target.createDatabase('fx');
    const restored = await runTool('pg_restore', ['--no-owner', '-h', target.host, '-p', String(target.port), '-U', target.superuser, '-d', 'fx', dump], target.password);
    // The only errors are the roles that exist only on the source (and the comment on a policy for one of them).
    const errors = restored.stderr.split('\n').filter((l) => l.includes('ERROR:'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((l) => !/role "fixture_(reader|app)" does not exist|policy "tenant_isolation" for table "tenant_notes" does not exist/.test(l))).toEqual([]);

    const source = { cluster: a, database: 'fx' };
    const restoredRef = { cluster: target, database: 'fx' };
    await assertDatabasesEqual(source, restoredRef, { ignoreMissingRoles: true, ignoreOwners: true });
    await assertDatabasesEqual(source, restoredRef, { ignoreMissingRoles: true });

    const strict = await compareDatabases(source, restoredRef);
    expect(strict.equal).toBe(false);
    expect(strict.differences).toContain('privilege SELECT on table app.events to fixture_reader: missing in b (a: granted)');
    expect(strict.differences).toContainEqual(expect.stringMatching(/^policy tenant_isolation on app\.tenant_notes: missing in b/));
    expect(strict.differences).toContain('owner of table "Straße & Co"."Kunden Liste": differs: a=fixture_app b=postgres');
    expect(strict.differences.every((d) => /fixture_(reader|app)|^comment on policy|^privilege \w+ on \w+ .* to PUBLIC/.test(d))).toBe(true);
  });
});
