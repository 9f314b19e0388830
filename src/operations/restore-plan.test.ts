/** Unit tests of restore planning: role extraction from ACL scripts, ACL skipping for missing roles, item-level
 *  selection closure, and the items of a parallel restore. */
import { describe, expect, it } from 'vitest';
import { UserErrorInvalidInput } from '../lib/index.ts';
import type { DataBlock, TocEntry } from '../postgres/index.ts';
import { planRestore, renderRestoreList, rolesInAcl, splitTableName } from './restore-plan.ts';

let nextId = 1;
function entry(desc: string, tag: string, namespace: string | null, extra: Partial<TocEntry> = {}): TocEntry {
  return {
    dumpId: nextId++, hadDumper: desc === 'TABLE DATA', tableOid: 0, oid: 0, tag, desc,
    section: desc === 'TABLE DATA' || desc === 'SEQUENCE SET' ? 'data' : ['INDEX', 'CONSTRAINT', 'FK CONSTRAINT', 'TRIGGER'].includes(desc) ? 'post-data' : desc === 'ACL' ? 'none' : 'pre-data',
    defn: null, dropStmt: null, copyStmt: null, namespace, tablespace: null, tableAm: null, relkind: 0, owner: 'app',
    dependencies: [], dataState: desc === 'TABLE DATA' ? 'not-set' : 'no-data', dataOffset: 0, ...extra,
  };
}

describe('rolesInAcl', () => {
  it('finds grantees, revokees, FOR ROLE and SESSION AUTHORIZATION roles, not object names', () => {
    expect(rolesInAcl('GRANT SELECT ON TABLE shop.items TO reader;')).toEqual(['reader']);
    expect(rolesInAcl('REVOKE ALL ON SCHEMA public FROM PUBLIC;\nGRANT ALL ON SCHEMA public TO "Odd Role", writer WITH GRANT OPTION;')).toEqual(['Odd Role', 'writer']);
    expect(rolesInAcl('ALTER DEFAULT PRIVILEGES FOR ROLE owner1 IN SCHEMA s GRANT SELECT ON TABLES TO auditor;')).toEqual(['auditor', 'owner1']);
    expect(rolesInAcl('SET SESSION AUTHORIZATION grantor;\nGRANT SELECT ON TABLE "to x"."from" TO r1;\nRESET SESSION AUTHORIZATION;')).toEqual(['grantor', 'r1']);
    expect(rolesInAcl('GRANT SELECT(a,b) ON TABLE t TO r2 GRANTED BY boss;')).toEqual(['boss', 'r2']);
    expect(rolesInAcl("CREATE POLICY p ON app.t FOR SELECT TO fixture_reader, \"Other\" USING ((name SIMILAR TO 'x'));")).toEqual(['Other', 'fixture_reader']);
    expect(rolesInAcl('CREATE POLICY p ON app.t USING (true);')).toEqual([]);
  });
});

describe('planRestore', () => {
  const schema = entry('SCHEMA', 'shop', null);
  const seq = entry('SEQUENCE', 'orders_id_seq', 'shop');
  const orders = entry('TABLE', 'orders', 'shop', { dependencies: [schema.dumpId] });
  const customers = entry('TABLE', 'customers', 'shop', { dependencies: [schema.dumpId] });
  const other = entry('TABLE', 'audit', 'public');
  const ownedBy = entry('SEQUENCE OWNED BY', 'orders_id_seq', 'shop', { dependencies: [seq.dumpId, orders.dumpId] });
  const dflt = entry('DEFAULT', 'orders id', 'shop', { dependencies: [orders.dumpId, seq.dumpId] });
  const ordersData = entry('TABLE DATA', 'orders', 'shop', { dependencies: [orders.dumpId] });
  const customersData = entry('TABLE DATA', 'customers', 'shop', { dependencies: [customers.dumpId] });
  const otherData = entry('TABLE DATA', 'audit', 'public', { dependencies: [other.dumpId] });
  const seqSet = entry('SEQUENCE SET', 'orders_id_seq', 'shop', { dependencies: [seq.dumpId] });
  const pk = entry('CONSTRAINT', 'orders orders_pkey', 'shop', { dependencies: [orders.dumpId] });
  const fk = entry('FK CONSTRAINT', 'orders orders_customer_fk', 'shop', { dependencies: [orders.dumpId, customers.dumpId] });
  const acl = entry('ACL', 'TABLE orders', 'shop', { dependencies: [orders.dumpId], defn: 'GRANT SELECT ON TABLE shop.orders TO reader;\nGRANT SELECT ON TABLE shop.orders TO app;' });
  const enc = entry('ENCODING', 'ENCODING', null);
  const toc = [enc, schema, seq, orders, customers, other, ownedBy, dflt, ordersData, customersData, otherData, seqSet, pk, fk, acl];
  const blocks: DataBlock[] = [
    { dumpId: ordersData.dumpId, kind: 'data', offset: 1000, lengthBytes: 500 },
    { dumpId: customersData.dumpId, kind: 'data', offset: 1500, lengthBytes: 300 },
    { dumpId: otherData.dumpId, kind: 'data', offset: 1800, lengthBytes: 250 },
  ];

  it('restores everything but the special entries when nothing is chosen', () => {
    const plan = planRestore({ toc, blocks, targetRoles: new Set(['app', 'reader']), targetIsSuperuser: true });
    expect(plan.selected).toEqual(toc.filter((e) => e !== enc).map((e) => e.dumpId));
    expect(plan.keepOwners).toBe(true);
    expect(plan.skipped).toEqual([]);
    // Three small tables: one data item, their blocks in one range.
    expect(plan.parallel.dataItems.flatMap((i) => i.ranges)).toEqual([{ offset: 1000, length: 1050 }]);
  });

  it('skips ACLs granting to missing roles, reports them, and drops ownership for a non-superuser', () => {
    const plan = planRestore({ toc, blocks, targetRoles: new Set(['app']), targetIsSuperuser: false });
    expect(plan.missingRoles).toEqual(['reader']);
    expect(plan.skipped).toEqual([{ dumpId: acl.dumpId, desc: 'ACL', tag: 'TABLE orders', namespace: 'shop', missingRoles: ['reader'] }]);
    expect(plan.selected).not.toContain(acl.dumpId);
    expect(plan.keepOwners).toBe(false);
  });

  it('reports missing owners and then does not keep ownership, even as superuser', () => {
    const plan = planRestore({ toc, blocks, targetRoles: new Set(['reader']), targetIsSuperuser: true });
    expect(plan.missingRoles).toEqual(['app']);
    expect(plan.keepOwners).toBe(false);
  });

  it('selects a table with its data, sequence, default, constraints and ACL, but not a foreign key to a table left out', () => {
    const plan = planRestore({ toc, blocks, selection: { tables: ['shop.orders'] }, targetRoles: new Set(['app', 'reader']), targetIsSuperuser: true });
    const ids = new Set(plan.selected);
    for (const e of [schema, orders, seq, ownedBy, dflt, ordersData, seqSet, pk, acl]) expect(ids.has(e.dumpId), `${e.desc} ${e.tag}`).toBe(true);
    for (const e of [customers, customersData, other, otherData, fk]) expect(ids.has(e.dumpId), `${e.desc} ${e.tag}`).toBe(false);
    expect(plan.parallel.dataItems.flatMap((i) => i.ranges)).toEqual([{ offset: 1000, length: 500 }]);
  });

  it('lists the table data whose table the restore creates, never a foreign table or data of a table left out', () => {
    const all = planRestore({ toc, blocks, targetRoles: new Set(['app', 'reader']), targetIsSuperuser: true });
    expect(all.createdTableData).toEqual([ordersData.dumpId, customersData.dumpId, otherData.dumpId]);
    const one = planRestore({ toc, blocks, selection: { tables: ['shop.orders'] }, targetRoles: new Set(['app', 'reader']), targetIsSuperuser: true });
    expect(one.createdTableData).toEqual([ordersData.dumpId]);
    // pg_dump --include-foreign-data: TABLE DATA of a FOREIGN TABLE (a TRUNCATE would empty the remote table).
    const remote = entry('FOREIGN TABLE', 'remote', 'public');
    const remoteData = entry('TABLE DATA', 'remote', 'public', { dependencies: [remote.dumpId] });
    const withRemote = planRestore({ toc: [...toc, remote, remoteData], blocks, targetRoles: new Set(['app', 'reader']), targetIsSuperuser: true });
    expect(withRemote.selected).toContain(remoteData.dumpId);
    expect(withRemote.createdTableData).not.toContain(remoteData.dumpId);
  });

  it('selects whole schemas, and rejects unknown schemas and tables with a coded error', () => {
    const plan = planRestore({ toc, blocks, selection: { schemas: ['shop'] }, targetIsSuperuser: true });
    expect(plan.selected).toContain(fk.dumpId);
    expect(plan.selected).not.toContain(other.dumpId);
    // A foreign key of the schema to a table of another schema left out stays out, with its comment.
    const fkOut = entry('FK CONSTRAINT', 'orders orders_audit_fk', 'shop', { dependencies: [orders.dumpId, other.dumpId] });
    const fkOutComment = entry('COMMENT', 'CONSTRAINT orders_audit_fk ON shop.orders', 'shop', { section: 'none', dependencies: [fkOut.dumpId] });
    const across = planRestore({ toc: [...toc, fkOut, fkOutComment], blocks, selection: { schemas: ['shop'] }, targetIsSuperuser: true });
    expect(across.selected).toContain(fk.dumpId);
    expect(across.selected).not.toContain(fkOut.dumpId);
    expect(across.selected).not.toContain(fkOutComment.dumpId);
    expect(planRestore({ toc: [...toc, fkOut, fkOutComment], blocks, selection: { schemas: ['shop', 'public'] }, targetIsSuperuser: true }).selected).toContain(fkOut.dumpId);
    expect(() => planRestore({ toc, blocks, selection: { schemas: ['nope'] }, targetIsSuperuser: true })).toThrow(/schema "nope"/);
    expect(() => planRestore({ toc, blocks, selection: { tables: ['shop.nope'] }, targetIsSuperuser: true })).toThrow(/table "shop"."nope"/);
  });

  const MiB = 1024 * 1024;
  const sized: DataBlock[] = [
    { dumpId: ordersData.dumpId, kind: 'data', offset: 1000, lengthBytes: 20 * MiB },
    { dumpId: customersData.dumpId, kind: 'data', offset: 1000 + 20 * MiB, lengthBytes: 10 * MiB },
    { dumpId: otherData.dumpId, kind: 'data', offset: 1000 + 30 * MiB, lengthBytes: 1000 },
  ];

  it('cuts a parallel restore into data items, largest first, small tables together, and post items that wait for their table', () => {
    const plan = planRestore({ toc, blocks: sized, targetIsSuperuser: true });
    const { dataItems, postItems } = plan.parallel;
    // orders and customers alone; the small audit table with the entries that have no block, in archive order.
    expect(dataItems.map((i) => i.dumpIds)).toEqual([[ordersData.dumpId], [customersData.dumpId], [seqSet.dumpId, otherData.dumpId]]);
    expect(dataItems.map((i) => i.tables)).toEqual([[orders.dumpId], [customers.dumpId], [other.dumpId]]);
    expect(dataItems[2]!.ranges).toEqual([{ offset: 1000 + 30 * MiB, length: 1000 }]);
    // The primary key of orders waits for orders only; the foreign key for both tables, locking both.
    expect(postItems).toEqual([
      { dumpIds: [pk.dumpId], tables: [orders.dumpId], exclusive: true, bytes: 20 * MiB },
      { dumpIds: [fk.dumpId], tables: [orders.dumpId, customers.dumpId], locks: [orders.dumpId, customers.dumpId], after: [], exclusive: true, bytes: 20 * MiB },
    ]);
    expect(renderRestoreList(dataItems[2]!.dumpIds, toc)).toBe(`${seqSet.dumpId}; SEQUENCE SET orders_id_seq\n${otherData.dumpId}; TABLE DATA audit\n`);
  });

  it('puts every entry in one phase: definitions first, grants and revokes last (after the data, as pg_restore)', () => {
    const plan = planRestore({ toc, blocks: sized, targetIsSuperuser: true });
    const { preData, dataItems, postItems, final } = plan.parallel;
    // The table ACL follows its table in the TOC (so --section counts it as pre-data), but runs in the final phase.
    expect(preData).toEqual([schema, seq, orders, customers, other, ownedBy, dflt].map((e) => e.dumpId));
    expect(final).toEqual([acl.dumpId]);
    const phases = [...preData, ...dataItems.flatMap((i) => i.dumpIds), ...postItems.flatMap((i) => i.dumpIds), ...final];
    expect([...phases].sort((a, b) => a - b)).toEqual([...plan.selected].sort((a, b) => a - b));
  });

  it("creates pg_dump 17's large objects (BLOB METADATA, in the data section) with their comments before any BLOBS block", () => {
    // pg_dump 17: metadata per group of large objects in the data section, each object's comment and ACL after it
    // (no section: --section counts them as data), then the group's contents in a BLOBS entry depending on it.
    const meta = entry('BLOB METADATA', 'LARGE OBJECTS 16385..16386', null, { section: 'data', defn: '16385\n16386\n' });
    const loComment = entry('COMMENT', 'LARGE OBJECT 16385', null, { section: 'none', dependencies: [meta.dumpId] });
    const loAcl = entry('ACL', 'LARGE OBJECT 16385', null, { section: 'none', dependencies: [meta.dumpId], defn: 'GRANT SELECT ON LARGE OBJECT 16385 TO reader;' });
    const blobs = entry('BLOBS', 'BLOBS 16385..16386', null, { section: 'data', hadDumper: true, dependencies: [meta.dumpId] });
    const lo = [...toc.slice(0, 11), meta, loComment, loAcl, blobs, ...toc.slice(11)];
    const plan = planRestore({
      toc: lo,
      blocks: [...sized, { dumpId: blobs.dumpId, kind: 'blobs', offset: 1000 + 31 * MiB, lengthBytes: 12 * MiB }],
      targetIsSuperuser: true,
    });
    const { preData, dataItems, final } = plan.parallel;
    expect(preData).toContain(meta.dumpId);
    expect(preData).toContain(loComment.dumpId);
    expect(preData.indexOf(loComment.dumpId)).toBeGreaterThan(preData.indexOf(meta.dumpId));
    // The BLOBS block is big enough for an item of its own: any worker may load it first, once pre-data is done.
    expect(dataItems.map((i) => i.dumpIds)).toContainEqual([blobs.dumpId]);
    expect(dataItems.flatMap((i) => i.dumpIds)).not.toContain(meta.dumpId);
    expect(final).toEqual([acl.dumpId, loAcl.dumpId].sort((a, b) => lo.findIndex((e) => e.dumpId === a) - lo.findIndex((e) => e.dumpId === b)));
  });

  it('loads small large-object blocks in an item of their own, not with the small tables (those go over a session)', () => {
    const blobs = entry('BLOBS', 'BLOBS', null, { section: 'data', hadDumper: true });
    const lo = [...toc.slice(0, 11), blobs, ...toc.slice(11)];
    const plan = planRestore({
      toc: lo,
      blocks: [...sized, { dumpId: blobs.dumpId, kind: 'blobs', offset: 1000 + 31 * MiB, lengthBytes: 2000 }],
      targetIsSuperuser: true,
    });
    const { dataItems } = plan.parallel;
    expect(dataItems.map((i) => i.dumpIds)).toContainEqual([blobs.dumpId]);
    const blobItem = dataItems.find((i) => i.dumpIds.includes(blobs.dumpId))!;
    expect(blobItem).toEqual({ dumpIds: [blobs.dumpId], ranges: [{ offset: 1000 + 31 * MiB, length: 2000 }], bytes: 2000, tables: [] });
    // The small tables' item is as without the large objects.
    const without = planRestore({ toc, blocks: sized, targetIsSuperuser: true }).parallel.dataItems;
    expect(dataItems.filter((i) => i !== blobItem)).toEqual(without);
  });

  it('builds the indexes and keys of a big table one item each, of a mid-sized table in one item, of all small tables in one', () => {
    const big = entry('TABLE', 'big', 'shop', { dependencies: [schema.dumpId] });
    const bigData = entry('TABLE DATA', 'big', 'shop', { dependencies: [big.dumpId] });
    const bigPk = entry('CONSTRAINT', 'big big_pkey', 'shop', { dependencies: [big.dumpId] });
    // pg_dump names the table once per indexed column: still an index of one table.
    const bigIdx = entry('INDEX', 'big_kind_idx', 'shop', { dependencies: [big.dumpId, big.dumpId] });
    const ordersIdx = entry('INDEX', 'orders_at_idx', 'shop', { dependencies: [orders.dumpId] });
    const otherIdx = entry('INDEX', 'audit_at_idx', 'public', { dependencies: [other.dumpId] });
    const plan = planRestore({
      toc: [...toc, big, bigData, bigPk, bigIdx, ordersIdx, otherIdx],
      blocks: [...sized, { dumpId: bigData.dumpId, kind: 'data', offset: 2000 + 30 * MiB, lengthBytes: 80 * MiB }],
      targetIsSuperuser: true,
    });
    expect(plan.parallel.dataItems[0]!.dumpIds).toEqual([bigData.dumpId]);
    expect(plan.parallel.postItems).toEqual([
      { dumpIds: [bigPk.dumpId], tables: [big.dumpId], exclusive: true, bytes: 80 * MiB },
      { dumpIds: [bigIdx.dumpId], tables: [big.dumpId], exclusive: false, bytes: 80 * MiB },
      { dumpIds: [pk.dumpId, ordersIdx.dumpId], tables: [orders.dumpId], exclusive: true, bytes: 20 * MiB },
      { dumpIds: [fk.dumpId], tables: [orders.dumpId, customers.dumpId], locks: [orders.dumpId, customers.dumpId], after: [], exclusive: true, bytes: 20 * MiB },
      { dumpIds: [otherIdx.dumpId], tables: [other.dumpId], exclusive: false, bytes: 1000 },
    ]);
  });

  it('runs a foreign key as soon as its tables, their partitions and the key it references are in, ranking what it waits for', () => {
    // lines (partitioned) with two partitions, one small; lines -> items (big), validated against items_pkey.
    const items = entry('TABLE', 'items', 'shop', { dependencies: [schema.dumpId] });
    const lines = entry('TABLE', 'lines', 'shop', { dependencies: [schema.dumpId] });
    const lines1 = entry('TABLE', 'lines_1', 'shop', { dependencies: [schema.dumpId, lines.dumpId] });
    const lines2 = entry('TABLE', 'lines_2', 'shop', { dependencies: [schema.dumpId, lines.dumpId] });
    const itemsData = entry('TABLE DATA', 'items', 'shop', { dependencies: [items.dumpId] });
    const lines1Data = entry('TABLE DATA', 'lines_1', 'shop', { dependencies: [lines1.dumpId] });
    const lines2Data = entry('TABLE DATA', 'lines_2', 'shop', { dependencies: [lines2.dumpId] });
    const itemsPk = entry('CONSTRAINT', 'items items_pkey', 'shop', { dependencies: [items.dumpId] });
    const linesPk = entry('CONSTRAINT', 'lines lines_pkey', 'shop', { dependencies: [lines.dumpId] });
    const linesFk = entry('FK CONSTRAINT', 'lines lines_item_fkey', 'shop', { dependencies: [lines.dumpId, items.dumpId, itemsPk.dumpId] });
    // A foreign key to the partitioned lines waits for its key, which is attached in the final phase: it stays there.
    const toLines = entry('FK CONSTRAINT', 'items items_line_fkey', 'shop', { dependencies: [items.dumpId, lines.dumpId, linesPk.dumpId] });
    const plan = planRestore({
      toc: [schema, items, lines, lines1, lines2, itemsData, lines1Data, lines2Data, itemsPk, linesPk, linesFk, toLines],
      blocks: [
        { dumpId: itemsData.dumpId, kind: 'data', offset: 1000, lengthBytes: 40 * MiB },
        { dumpId: lines1Data.dumpId, kind: 'data', offset: 1000 + 40 * MiB, lengthBytes: 30 * MiB },
        { dumpId: lines2Data.dumpId, kind: 'data', offset: 1000 + 70 * MiB, lengthBytes: 1000 },
      ],
      targetIsSuperuser: true,
    });
    const { dataItems, postItems, final } = plan.parallel;
    const fkItem = postItems.find((p) => p.dumpIds[0] === linesFk.dumpId)!;
    expect(fkItem).toEqual({
      dumpIds: [linesFk.dumpId],
      tables: [items.dumpId, lines1.dumpId, lines2.dumpId],
      locks: [lines.dumpId, items.dumpId, lines1.dumpId, lines2.dumpId],
      after: [itemsPk.dumpId],
      exclusive: true,
      bytes: 40 * MiB,
    });
    expect(final).toEqual([linesPk.dumpId, toLines.dumpId]);
    // The small tables' item (lines_2) and items_pkey rank with items, the foreign key's biggest table.
    const small = dataItems.find((d) => d.tables.includes(lines2.dumpId))!;
    expect(small.bytes).toBe(1000);
    expect(small.rank).toBe(40 * MiB);
    expect(dataItems.find((d) => d.tables.includes(lines1.dumpId))!.rank).toBe(40 * MiB);
    expect(postItems.find((p) => p.dumpIds.includes(itemsPk.dumpId))!.rank).toBe(40 * MiB);
  });

  it("makes every foreign key wait for extension configuration data (no TABLE entry of its own); a NOT VALID one hurries nothing", () => {
    const ext = entry('EXTENSION', 'postgis', null);
    const places = entry('TABLE', 'places', 'shop', { dependencies: [schema.dumpId] });
    const placesData = entry('TABLE DATA', 'places', 'shop', { dependencies: [places.dumpId] });
    // pg_dump: the config table's data depends on the table, which belongs to the extension and has no entry.
    const srsData = entry('TABLE DATA', 'spatial_ref_sys', 'public', { dependencies: [99999] });
    const placesFk = entry('FK CONSTRAINT', 'places places_srid_fkey', 'shop', { dependencies: [places.dumpId, ext.dumpId] });
    const lazyFk = entry('FK CONSTRAINT', 'places places_other_fkey', 'shop', {
      dependencies: [places.dumpId],
      defn: 'ALTER TABLE shop.places\n    ADD CONSTRAINT places_other_fkey FOREIGN KEY (other) REFERENCES shop.places(id) NOT VALID;\n',
    });
    const plan = planRestore({
      toc: [schema, ext, places, placesData, srsData, placesFk, lazyFk],
      blocks: [
        { dumpId: placesData.dumpId, kind: 'data', offset: 1000, lengthBytes: 50 * MiB },
        { dumpId: srsData.dumpId, kind: 'data', offset: 1000 + 50 * MiB, lengthBytes: 2000 },
      ],
      targetIsSuperuser: true,
    });
    const { dataItems, postItems } = plan.parallel;
    const small = dataItems.find((d) => d.dumpIds.includes(srsData.dumpId))!;
    expect(small.tables).toEqual([srsData.dumpId]);
    expect(postItems.find((p) => p.dumpIds[0] === placesFk.dumpId)).toMatchObject({ tables: [places.dumpId, srsData.dumpId], bytes: 50 * MiB });
    expect(postItems.find((p) => p.dumpIds[0] === lazyFk.dumpId)).toMatchObject({ tables: [places.dumpId, srsData.dumpId], bytes: 0 });
    expect(small.rank).toBe(50 * MiB); // raised by the validated one only
  });
});

describe('splitTableName', () => {
  it('reads schema.table or a table in public, as written; double quotes keep dots and quotes in a name', () => {
    expect(splitTableName('shop.orders')).toEqual(['shop', 'orders']);
    expect(splitTableName('orders')).toEqual(['public', 'orders']);
    expect(splitTableName('Shop.Orders')).toEqual(['Shop', 'Orders']);
    expect(splitTableName('"a.b".t')).toEqual(['a.b', 't']);
    expect(splitTableName('app."x.y"')).toEqual(['app', 'x.y']);
    expect(splitTableName('"my schema"."say ""hi"""')).toEqual(['my schema', 'say "hi"']);
    expect(splitTableName('"only.table"')).toEqual(['public', 'only.table']);
  });

  it('rejects a name it cannot read with a coded error and a hint, instead of guessing', () => {
    for (const bad of ['a.b.c', '"open', '"a"b', 'a."b"c', '', '.t', 's.', 'a"b.c']) {
      const err = (() => {
        try {
          splitTableName(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(UserErrorInvalidInput);
      expect((err as UserErrorInvalidInput).hint).toContain('double-quote');
    }
  });
});
