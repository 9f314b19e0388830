import { describe, expect, it } from 'vitest';
import { describeMissing, grantScript, grantsForMissing, psqlConnect, type MissingPrivilege } from './grant-script.ts';

describe('grantsForMissing', () => {
  it('grants exactly each missing privilege, grouped by database, identifiers quoted', () => {
    const missing: MissingPrivilege[] = [
      { kind: 'connect', database: 'app' },
      { kind: 'usage', database: 'app', schema: 'Billing' },
      { kind: 'select', database: 'app', schema: 'Billing', name: 'in"voices', objectType: 'table' },
      { kind: 'select', database: 'app', schema: 'public', name: 'ids', objectType: 'sequence' },
      { kind: 'largeobject', database: 'app', oid: 16401 },
      { kind: 'bypassrls', database: 'app', schema: 'public', name: 'secrets' },
    ];
    expect(grantsForMissing('back up', missing).split('\n').slice(1)).toEqual([
      'ALTER ROLE "back up" BYPASSRLS; -- needs a superuser',
      'GRANT CONNECT ON DATABASE "app" TO "back up";',
      `\\connect -reuse-previous=on "dbname='app'"`,
      'GRANT USAGE ON SCHEMA "Billing" TO "back up";',
      'GRANT SELECT ON TABLE "Billing"."in""voices" TO "back up";',
      'GRANT SELECT ON SEQUENCE "public"."ids" TO "back up";',
      'GRANT SELECT ON LARGE OBJECT 16401 TO "back up";',
      '',
    ]);
    expect(missing.map(describeMissing)[2]).toBe('SELECT on table "Billing"."in""voices" in database "app"');
  });

  it('turns thousands of large objects into one loop over exactly the unreadable ones', () => {
    const script = grantsForMissing('bk', [{ kind: 'largeobjects', database: 'app', count: 5000 }]);
    expect(script).toContain('FOR m IN SELECT lo.oid FROM pg_largeobject_metadata lo WHERE NOT pg_has_role(\'bk\', lo.lomowner');
    expect(describeMissing({ kind: 'largeobjects', database: 'app', count: 5000 })).toBe('SELECT on 5000 large objects in database "app"');
  });
});

describe('psqlConnect', () => {
  it('takes a name literally even when it looks like a connection string or holds quotes', () => {
    expect(psqlConnect('host=127.0.0.2 dbname=x')).toBe(`\\connect -reuse-previous=on "dbname='host=127.0.0.2 dbname=x'"`);
    expect(psqlConnect(`it's "odd"\\`)).toBe(`\\connect -reuse-previous=on "dbname='it\\'s ""odd""\\\\'"`);
  });
});

describe('grantScript', () => {
  it('uses pg_read_all_data on 14+, still grants large objects, and default privileges only where needed', async () => {
    const on14 = await grantScript('bk', { databases: ['a', 'b'], serverMajor: 14 });
    expect(on14).toContain('GRANT pg_read_all_data TO "bk";');
    expect(on14.match(/GRANT CONNECT ON DATABASE/g)).toHaveLength(2);
    expect(on14).toContain('GRANT SELECT ON LARGE OBJECT %s TO %I');
    expect(on14).not.toContain('ALTER DEFAULT PRIVILEGES');
    const on13 = await grantScript('bk', { databases: ['a'], serverMajor: 13 });
    expect(on13).not.toContain('GRANT pg_read_all_data');
    expect(on13).toContain("ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT ON TABLES TO %I");
    expect(on13).toContain("ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT USAGE ON SCHEMAS TO %I");
    expect(on13).toContain('need their own GRANT SELECT ON LARGE OBJECT before PostgreSQL 18');
    const on18 = await grantScript('bk', { databases: ['a'], serverMajor: 18, readAllData: false });
    expect(on18).toContain('GRANT SELECT ON LARGE OBJECTS TO %I');
    // pg_read_all_data does not cover large objects: their default privileges are there on 18+ with it too.
    const on18ReadAll = await grantScript('bk', { databases: ['a'], serverMajor: 18 });
    expect(on18ReadAll).toContain('GRANT pg_read_all_data TO "bk";');
    expect(on18ReadAll).toContain("ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT ON LARGE OBJECTS TO %I");
    expect(on18ReadAll).not.toContain('ON TABLES');
  });

  it('gives BYPASSRLS (pg_dump reads with row_security = off), and only warns when the runner is no superuser', async () => {
    for (const serverMajor of [13, 17]) {
      const script = await grantScript('bk', { databases: ['a'], serverMajor });
      expect(script).toContain(`EXECUTE format('ALTER ROLE %I BYPASSRLS', 'bk');`);
      expect(script).toMatch(/EXCEPTION WHEN insufficient_privilege THEN\n {2}RAISE WARNING/);
    }
  });
});
