/** Plans a restore from an archive's TOC: which entries to restore (all, or chosen schemas or tables with what
 *  belongs to them), which ACL entries to skip because their roles are missing on the target, and how to split
 *  to cut a parallel restore into items that free workers take as they become ready (each table's data, then its
 *  indexes and keys). Pure: no I/O, no PostgreSQL. */
import { UserErrorInvalidInput } from '../lib/index.ts';
import { type DataBlock, type TocEntry, type TocSection } from '../postgres/index.ts';

export interface RestoreSelection {
  /** Restore these schemas whole (the schema itself, every object in it and their data), but foreign keys to tables
   *  of other schemas. */
  schemas?: string[];
  /** Restore these tables ("schema.table", or "table" for public) with their data, indexes, constraints,
   *  triggers, defaults, owned sequences, comments and ACLs. Foreign keys to tables left out are dropped. */
  tables?: string[];
}

export interface SkippedEntry {
  dumpId: number;
  desc: string;
  tag: string;
  namespace: string | null;
  /** Roles the entry names that the target lacks. */
  missingRoles: string[];
}

/** One `pg_restore --section=data` run of a parallel restore: one big table's data block, or the blocks of all small
 *  tables with the data entries that have none (SEQUENCE SET …). */
export interface DataItem {
  /** TOC entries it restores, in archive order. */
  dumpIds: number[];
  /** Archive byte ranges to append after the TOC, in order. */
  ranges: { offset: number; length: number }[];
  bytes: number;
  /** TABLE entries whose data it loads. */
  tables: number[];
  /** Where it stands among ready items, biggest first (bytes when unset): raised for the data a foreign key waits for. */
  rank?: number;
}

/** One post item of a parallel restore (built as SQL over a worker's session, or by one `pg_restore
 *  --section=post-data` run): indexes and non-foreign-key constraints of one
 *  table (one of them, for a big table; all of them, for all small tables together), ready as soon as the data of
 *  its tables is in (what pg_restore -j overlaps with other tables' loads). */
export interface PostItem {
  dumpIds: number[];
  /** The TABLE entries whose data must be loaded first. */
  tables: number[];
  /** It alters its table (ALTER TABLE … ADD CONSTRAINT takes an ACCESS EXCLUSIVE lock): no other item on that table
   *  may run beside it, or that item's backend would only wait. Index builds on one table run side by side. */
  exclusive: boolean;
  /** The bytes of those tables' data: bigger tables' indexes take longer, so they go first. */
  bytes: number;
  /** Entries of other post items that must be built first (the key a foreign key references). */
  after?: number[];
  /** The tables it locks, for the rule above, when more than `tables` (a foreign key: both tables, with their
   *  partitions and inheritance children). */
  locks?: number[];
  /** As DataItem.rank. */
  rank?: number;
}

/** Tables with less data than this are loaded together in one pg_restore run, and their indexes and keys built
 *  together in one more: each run costs 45–80 ms of a worker's time here (process, TOC, connection), and a
 *  scale-100 fixture restore had 36 of them. */
const smallTableBytes = 8 * 1024 * 1024;
/** The indexes and keys of a table with at least this much data are built one per run, so that free workers share
 *  them; a smaller table's go in one run. */
const splitPostDataFromBytes = 64 * 1024 * 1024;

export interface RestorePlan {
  /** Entries to restore, in TOC order: the -L list of every phase. */
  selected: number[];
  /** ACL, DEFAULT ACL and POLICY entries left out because a role they name does not exist on the target. */
  skipped: SkippedEntry[];
  /** Roles named by the archive (owners and ACL grantees) that the target lacks, sorted. */
  missingRoles: string[];
  /** Whether object ownership can be kept (every owner exists and the restoring role is a superuser). */
  keepOwners: boolean;
  /** The phases of a parallel restore, each entry of `selected` in exactly one, in TOC order within a phase:
   *  - preData: definitions, before any data (one pg_restore), with pg_dump 17's large-object metadata;
   *  - dataItems, largest first, and postItems (the indexes and keys of a table once its data is in);
   *  - final: the rest (foreign keys, triggers, matview data, and the ACL pass: grants and revokes only once every
   *    row is in, as pg_restore applies them; an owner that revoked its own INSERT must still load its table). */
  parallel: { preData: number[]; dataItems: DataItem[]; postItems: PostItem[]; final: number[] };
  /** TABLE DATA entries whose table this restore creates: their COPY may empty the table first, in its own
   *  transaction (truncateBeforeCopy), which spares the WAL of the load on a wal_level = minimal server. */
  createdTableData: number[];
}

export interface RestorePlanInput {
  toc: readonly TocEntry[];
  blocks: readonly DataBlock[];
  selection?: RestoreSelection;
  /** Role names existing on the target; undefined when they could not be read (then nothing is skipped). */
  targetRoles?: ReadonlySet<string>;
  targetIsSuperuser: boolean;
}

/** Entries pg_restore handles itself (never listed) or that only apply with --create. */
const specialDescs = new Set(['ENCODING', 'STDSTRINGS', 'SEARCHPATH', 'DATABASE', 'DATABASE PROPERTIES']);
const relationDescs = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'SEQUENCE', 'FOREIGN TABLE']);
/** Post-data entries a parallel restore builds as soon as their one table is loaded (a restore session takes them;
 *  a foreign key waits for more: foreignKeyItems). */
const workerLocalDescs: ReadonlySet<string> = new Set(['INDEX', 'CONSTRAINT']);
const builtinRoles = new Set(['PUBLIC', 'public']);
/** Entries pg_restore keeps for its ACL pass, after every other entry of a run (_tocEntryRestorePass in
 *  pg_backup_archiver.c). */
const aclPassDescs = new Set(['ACL', 'ACL LANGUAGE', 'DEFAULT ACL']);
/** Entries whose SQL names roles: restoring them needs those roles, so they are skipped (and reported) without them.
 *  A policy left out means its table denies more, never less. */
const roleNamingDescs = new Set(['ACL', 'DEFAULT ACL', 'POLICY']);

export function planRestore(input: RestorePlanInput): RestorePlan {
  const byId = new Map(input.toc.map((e) => [e.dumpId, e]));
  const selected = selectEntries(input.toc, byId, input.selection);

  // Roles: owners and ACL grantees that the target lacks.
  const missing = new Set<string>();
  const skipped: SkippedEntry[] = [];
  let ownersMissing = false;
  if (input.targetRoles) {
    for (const e of input.toc) {
      if (!selected.has(e.dumpId)) continue;
      if (e.owner && !input.targetRoles.has(e.owner)) {
        missing.add(e.owner);
        ownersMissing = true;
      }
      if (roleNamingDescs.has(e.desc)) {
        const lacking = rolesInAcl(e.defn ?? '').filter((r) => !input.targetRoles!.has(r));
        if (lacking.length > 0) {
          lacking.forEach((r) => missing.add(r));
          skipped.push({ dumpId: e.dumpId, desc: e.desc, tag: e.tag ?? '', namespace: e.namespace, missingRoles: lacking });
          selected.delete(e.dumpId);
        }
      }
    }
  }
  // Comments, labels and ACLs of a skipped entry would fail without it: they go too, reported with it.
  const skippedIds = new Map(skipped.map((s) => [s.dumpId, s]));
  for (const e of input.toc) {
    if (!selected.has(e.dumpId) || !['COMMENT', 'SECURITY LABEL', 'ACL'].includes(e.desc)) continue;
    const parent = e.dependencies.map((d) => skippedIds.get(d)).find((s) => s !== undefined);
    if (!parent) continue;
    selected.delete(e.dumpId);
    skipped.push({ dumpId: e.dumpId, desc: e.desc, tag: e.tag ?? '', namespace: e.namespace, missingRoles: parent.missingRoles });
  }
  const keepOwners = input.targetIsSuperuser && !ownersMissing;
  if (!keepOwners) {
    // Without ownership the restoring role owns everything; DEFAULT ACLs FOR ROLE another role need that role's rights.
    for (const e of input.toc) {
      if (e.desc !== 'DEFAULT ACL' || !selected.has(e.dumpId) || input.targetIsSuperuser) continue;
      selected.delete(e.dumpId);
      skipped.push({ dumpId: e.dumpId, desc: e.desc, tag: e.tag ?? '', namespace: e.namespace, missingRoles: [] });
    }
  }

  const order = input.toc.filter((e) => selected.has(e.dumpId)).map((e) => e.dumpId);
  return {
    selected: order,
    skipped,
    missingRoles: [...missing].sort(),
    keepOwners,
    parallel: parallelItems(input.toc, input.blocks, selected),
    createdTableData: createdTableData(input.toc, selected),
  };
}

function selectEntries(toc: readonly TocEntry[], byId: Map<number, TocEntry>, sel: RestoreSelection | undefined): Set<number> {
  const all = toc.filter((e) => !specialDescs.has(e.desc));
  if (!sel || ((sel.schemas?.length ?? 0) === 0 && (sel.tables?.length ?? 0) === 0)) return new Set(all.map((e) => e.dumpId));

  const chosen = new Set<number>();
  for (const schema of sel.schemas ?? []) {
    const found = all.filter((e) => e.namespace === schema || (e.desc === 'SCHEMA' && e.tag === schema));
    if (found.length === 0) {
      throw new UserErrorInvalidInput(`schema "${schema}" is not in the recovery point`, {
        hint: 'List the schemas of the recovery point and check the spelling (names are case-sensitive).',
        details: { field: 'schemas', schema },
      });
    }
    // The public schema exists in every new database: its CREATE would fail.
    for (const e of found) if (!(e.desc === 'SCHEMA' && e.tag === 'public')) chosen.add(e.dumpId);
  }
  // A foreign key of a chosen schema to a table of a schema left out would fail the restore ("relation does not
  // exist"): it stays out, as for chosen tables (the closure below never adds one either).
  const outside = new Set<number>();
  for (const e of all) {
    if (e.desc !== 'FK CONSTRAINT' || !chosen.has(e.dumpId)) continue;
    if (e.dependencies.some((d) => relationDescs.has(byId.get(d)?.desc ?? '') && !chosen.has(d))) outside.add(e.dumpId);
  }
  // With their comments and security labels.
  for (const e of all) if (chosen.has(e.dumpId) && (outside.has(e.dumpId) || e.dependencies.some((d) => outside.has(d)))) chosen.delete(e.dumpId);
  const tableSeeds: TocEntry[] = [];
  for (const name of sel.tables ?? []) {
    const [schema, table] = splitTableName(name);
    const t = all.find((e) => relationDescs.has(e.desc) && e.desc !== 'SEQUENCE' && e.namespace === schema && e.tag === table);
    if (!t) {
      throw new UserErrorInvalidInput(`table "${schema}"."${table}" is not in the recovery point`, {
        hint: 'Name tables as schema.table (public when omitted); names are case-sensitive; double-quote a part that holds a dot ("my.schema".table).',
        details: { field: 'tables', table: name },
      });
    }
    tableSeeds.push(t);
    chosen.add(t.dumpId);
    const schemaEntry = all.find((e) => e.desc === 'SCHEMA' && e.tag === schema);
    if (schemaEntry && schema !== 'public') chosen.add(schemaEntry.dumpId);
  }

  // Closure: an entry joins when it depends on a chosen entry and every relation it depends on is chosen or a
  // sequence (a foreign key to a table left out stays out; the sequence of a default comes along).
  let changed = true;
  while (changed) {
    changed = false;
    for (const e of all) {
      if (chosen.has(e.dumpId)) continue;
      const deps = e.dependencies.map((d) => byId.get(d)).filter((d): d is TocEntry => d !== undefined);
      const relDeps = deps.filter((d) => relationDescs.has(d.desc));
      const joins =
        deps.some((d) => chosen.has(d.dumpId) && d.desc !== 'SCHEMA') && relDeps.every((d) => chosen.has(d.dumpId) || d.desc === 'SEQUENCE');
      if (joins) {
        chosen.add(e.dumpId);
        // A default's nextval() sequence comes along with it.
        for (const d of relDeps) chosen.add(d.dumpId);
        changed = true;
      }
    }
  }
  return chosen;
}

/** A chosen table's schema and name: "schema.table", or "table" in public. Names are taken as written (no case
 *  folding); a part in double quotes may hold dots, with "" for a quote: "my.schema"."a.b", app."x.y". */
export function splitTableName(name: string): [schema: string, table: string] {
  const bad = (why: string): UserErrorInvalidInput =>
    new UserErrorInvalidInput(`table name ${JSON.stringify(name)} ${why}`, {
      hint: 'Name tables as schema.table or table (public); double-quote a part that holds a dot, doubling a quote inside it: "my.schema".table.',
      details: { field: 'tables', table: name },
    });
  const part = (at: number): [text: string, end: number] => {
    if (name[at] !== '"') {
      const dot = name.indexOf('.', at);
      const end = dot < 0 ? name.length : dot;
      if (name.slice(at, end).includes('"')) throw bad('has a quote inside an unquoted part');
      return [name.slice(at, end), end];
    }
    let text = '';
    for (let i = at + 1; i < name.length; i++) {
      if (name[i] !== '"') text += name[i];
      else if (name[i + 1] === '"') text += name[i++];
      else return [text, i + 1];
    }
    throw bad('has an unterminated quote');
  };
  const [first, end] = part(0);
  if (end === name.length) {
    if (first === '') throw bad('is empty');
    return ['public', first];
  }
  if (name[end] !== '.') throw bad('has text after a quoted name');
  const [second, end2] = part(end + 1);
  if (end2 !== name.length) throw bad(name[end2] === '.' ? 'has more than two parts' : 'has text after a quoted name');
  if (first === '' || second === '') throw bad('has an empty part');
  return [first, second];
}

/** Role names an ACL or DEFAULT ACL entry grants to, revokes from, acts FOR ROLE, or sets SESSION AUTHORIZATION to,
 *  and the roles a CREATE POLICY applies TO.
 *  Tokenised, so a quoted object name containing "TO" is never read as a role. */
export function rolesInAcl(defn: string): string[] {
  const roles = new Set<string>();
  const tokens = tokenize(defn);
  const word = (i: number): string => (tokens[i]?.kind === 'word' ? tokens[i]!.text.toUpperCase() : '');
  const readList = (i: number): void => {
    for (let k = i; k < tokens.length; k += 2) {
      const t = tokens[k];
      if (!t || (t.kind !== 'word' && t.kind !== 'qident')) return;
      const name = t.kind === 'qident' ? t.text : t.text.toLowerCase();
      if (!(t.kind === 'word' && builtinRoles.has(t.text))) roles.add(name);
      if (tokens[k + 1]?.text !== ',') return;
    }
  };
  let statementStart = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.text === ';') {
      statementStart = i + 1;
      continue;
    }
    const head = word(statementStart);
    const w = word(i);
    if ((head === 'GRANT' && w === 'TO') || (head === 'REVOKE' && w === 'FROM')) readList(i + 1);
    else if (head === 'ALTER' && (w === 'ROLE' || w === 'USER') && word(i - 1) === 'FOR') readList(i + 1);
    else if (head === 'ALTER' && ((w === 'TO' && hasWord(tokens, statementStart, i, 'GRANT')) || (w === 'FROM' && hasWord(tokens, statementStart, i, 'REVOKE')))) readList(i + 1);
    else if (head === 'SET' && w === 'AUTHORIZATION' && word(i - 1) === 'SESSION') readList(i + 1);
    else if (head === 'CREATE' && word(statementStart + 1) === 'POLICY' && w === 'TO' && !hasWord(tokens, statementStart, i, 'TO') && !hasWord(tokens, statementStart, i, 'USING')) readList(i + 1);
    else if (w === 'BY' && word(i - 1) === 'GRANTED') readList(i + 1);
  }
  return [...roles].sort();
}

interface Token {
  kind: 'word' | 'qident' | 'string' | 'punct';
  text: string;
}

function hasWord(tokens: Token[], from: number, to: number, w: string): boolean {
  for (let i = from; i < to; i++) if (tokens[i]!.kind === 'word' && tokens[i]!.text.toUpperCase() === w) return true;
  return false;
}

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      let text = '';
      i++;
      while (i < sql.length) {
        if (sql[i] === c && sql[i + 1] === c) {
          text += c;
          i += 2;
        } else if (sql[i] === c) {
          i++;
          break;
        } else text += sql[i++];
      }
      out.push({ kind: c === '"' ? 'qident' : 'string', text });
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i, i + 128))!;
      out.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    } else {
      out.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return out;
}

/** The data items (one per table with `smallTableBytes` of data or more, largest first, one for all smaller
 *  tables and the data entries without a block, and one for the smaller large-object blocks) and the post items of a
 *  parallel restore. */
function parallelItems(toc: readonly TocEntry[], blocks: readonly DataBlock[], selected: Set<number>): RestorePlan['parallel'] {
  const byId = new Map(toc.map((e) => [e.dumpId, e]));
  const blockById = new Map(blocks.map((b) => [b.dumpId, b]));
  const sections = effectiveSections(toc);
  // Before any data: what counts as pre-data but the ACL pass; and pg_dump 17's large-object metadata (BLOB
  // METADATA: lo_create and owner, in the data section) with the comments and labels after it, because a BLOBS
  // block only writes into large objects that exist (archive 1.16) and may load in any worker first.
  const preData = toc
    .filter((e) => selected.has(e.dumpId) && !aclPassDescs.has(e.desc))
    .filter((e) => e.desc === 'BLOB METADATA' || (e.section === 'none' ? sections.get(e.dumpId) !== 'post-data' : e.section === 'pre-data'))
    .map((e) => e.dumpId);
  const dataEntries = toc.filter((e) => e.section === 'data' && e.desc !== 'BLOB METADATA' && selected.has(e.dumpId));
  // The data of an extension's configuration table (PostGIS's spatial_ref_sys rows) has no TABLE entry of its own:
  // its entry stands in for the table, so that what must wait for it (a foreign key) can.
  const tablesOf = (e: TocEntry): number[] => {
    if (e.desc !== 'TABLE DATA') return [];
    const tables = [...new Set(e.dependencies)].filter((d) => byId.get(d)?.desc === 'TABLE');
    return tables.length > 0 ? tables : [e.dumpId];
  };
  const dataItems: DataItem[] = [];
  const small: TocEntry[] = [];
  for (const e of dataEntries) {
    const b = blockById.get(e.dumpId);
    if (b && b.lengthBytes >= smallTableBytes) {
      dataItems.push({ dumpIds: [e.dumpId], ranges: [{ offset: b.offset, length: b.lengthBytes }], bytes: b.lengthBytes, tables: tablesOf(e) });
    } else small.push(e);
  }
  const tableBytes = new Map<number, number>();
  for (const item of dataItems) for (const t of item.tables) tableBytes.set(t, item.bytes);
  /** One item of `entries`: pg_restore reads a stream front to back, so the blocks go in archive order (entries
   *  without a block first). */
  const itemOf = (entries: TocEntry[]): DataItem => {
    const ordered = [...entries].sort((x, y) => (blockById.get(x.dumpId)?.offset ?? -1) - (blockById.get(y.dumpId)?.offset ?? -1));
    const ranges: DataItem['ranges'] = [];
    for (const e of ordered) {
      const b = blockById.get(e.dumpId);
      if (!b) continue;
      const last = ranges[ranges.length - 1];
      if (last && last.offset + last.length === b.offset) last.length += b.lengthBytes;
      else ranges.push({ offset: b.offset, length: b.lengthBytes });
      for (const t of tablesOf(e)) tableBytes.set(t, b.lengthBytes);
    }
    return { dumpIds: ordered.map((e) => e.dumpId), ranges, bytes: ranges.reduce((n, r) => n + r.length, 0), tables: ordered.flatMap(tablesOf) };
  };
  // The small large-object blocks in an item of their own: only pg_restore loads large objects, and the small tables'
  // item then goes over a session (COPY) like the others.
  const smallBlobs = small.filter((e) => e.desc === 'BLOBS');
  const smallRest = small.filter((e) => e.desc !== 'BLOBS');
  let smallItem: DataItem | undefined;
  if (smallRest.length > 0) dataItems.push((smallItem = itemOf(smallRest)));
  if (smallBlobs.length > 0) dataItems.push(itemOf(smallBlobs));
  dataItems.sort((x, y) => y.bytes - x.bytes || (x.ranges[0]?.offset ?? 0) - (y.ranges[0]?.offset ?? 0));

  // Post-data entries on exactly one table whose data an item loads (pg_dump names a table once per indexed column).
  const byTable = new Map<number, number[]>();
  const ofSmall: number[] = [];
  const smallTables = new Set(smallItem?.tables ?? []);
  for (const e of toc) {
    if (e.section !== 'post-data' || !workerLocalDescs.has(e.desc) || !selected.has(e.dumpId)) continue;
    const rels = [...new Set(e.dependencies)].filter((d) => relationDescs.has(byId.get(d)?.desc ?? ''));
    if (rels.length !== 1 || !tableBytes.has(rels[0]!)) continue;
    const t = rels[0]!;
    if (smallTables.has(t)) ofSmall.push(e.dumpId);
    else byTable.set(t, [...(byTable.get(t) ?? []), e.dumpId]);
  }
  const exclusive = (ids: number[]): boolean => ids.some((id) => byId.get(id)?.desc !== 'INDEX');
  const postItems: PostItem[] = [];
  for (const [t, ids] of byTable) {
    const bytes = tableBytes.get(t)!;
    if (bytes < splitPostDataFromBytes) postItems.push({ dumpIds: ids, tables: [t], exclusive: exclusive(ids), bytes });
    else for (const id of ids) postItems.push({ dumpIds: [id], tables: [t], exclusive: exclusive([id]), bytes });
  }
  if (smallItem && ofSmall.length > 0) postItems.push({ dumpIds: ofSmall, tables: smallItem.tables, exclusive: exclusive(ofSmall), bytes: smallItem.bytes });
  postItems.push(...foreignKeyItems(toc, byId, selected, new Set(preData), dataItems, postItems, tableBytes));
  postItems.sort((x, y) => y.bytes - x.bytes);
  const earlier = new Set([...preData, ...dataItems.flatMap((i) => i.dumpIds), ...postItems.flatMap((i) => i.dumpIds)]);
  const final = toc.filter((e) => selected.has(e.dumpId) && !earlier.has(e.dumpId)).map((e) => e.dumpId);
  return { preData, dataItems, postItems, final };
}

/** Foreign keys as post items of their own, as pg_restore -j runs them: ready once both tables are loaded and the key
 *  they reference is built. Each is one long statement (a join of both tables validates every row: 1.7 s of a
 *  scale-100 restore), a tail on one core when left to the final phase. Only a foreign key whose every other
 *  dependency is restored before (pre-data, or a post item) is taken; one that waits for an entry of the final phase
 *  (a key on a partitioned table, attached there) stays there. It locks both tables and their partitions (ALTER TABLE
 *  ADD FOREIGN KEY recurses into them): it waits for their data (and for any extension configuration data) and runs
 *  beside no other item on them. The data and keys it waits for rank with its biggest table, so that a small
 *  table's data does not come last and hold it. */
function foreignKeyItems(
  toc: readonly TocEntry[],
  byId: ReadonlyMap<number, TocEntry>,
  selected: Set<number>,
  preData: Set<number>,
  dataItems: DataItem[],
  postItems: PostItem[],
  tableBytes: Map<number, number>,
): PostItem[] {
  const isTable = (id: number): boolean => byId.get(id)?.desc === 'TABLE';
  const built = new Map<number, PostItem>();
  for (const p of postItems) for (const id of p.dumpIds) built.set(id, p);
  const loadedBy = new Map<number, DataItem>();
  for (const d of dataItems) for (const t of d.tables) loadedBy.set(t, d);
  // A partition's TABLE entry depends on its parent's (so does an inheritance child's, and a table using another's
  // row type: locked and waited for too, which only costs time).
  const children = new Map<number, number[]>();
  for (const e of toc) {
    if (e.desc !== 'TABLE') continue;
    for (const d of new Set(e.dependencies)) if (isTable(d)) children.set(d, [...(children.get(d) ?? []), e.dumpId]);
  }
  // Extension configuration data (tablesOf): the table it fills is not in the archive, so a foreign key to it cannot
  // be told apart; every foreign key waits for all of it.
  const configData = dataItems.flatMap((d) => d.tables).filter((t) => byId.get(t)?.desc === 'TABLE DATA');
  const items: PostItem[] = [];
  for (const e of toc) {
    if (e.desc !== 'FK CONSTRAINT' || e.section !== 'post-data' || !selected.has(e.dumpId)) continue;
    const deps = [...new Set(e.dependencies)].filter((d) => selected.has(d));
    const others = deps.filter((d) => !isTable(d));
    if (!deps.some(isTable) || !others.every((d) => preData.has(d) || built.has(d))) continue;
    const locks = new Set(deps.filter(isTable));
    for (const t of locks) for (const c of children.get(t) ?? []) locks.add(c); // grows while iterated: all levels
    const tables = [...[...locks].filter((t) => loadedBy.has(t)), ...configData];
    // NOT VALID: nothing to check, nothing to hurry.
    const validates = !/\bNOT VALID\s*;?\s*$/.test(e.defn ?? '');
    const item: PostItem = {
      dumpIds: [e.dumpId],
      tables,
      locks: [...locks],
      after: others.filter((d) => built.has(d)),
      exclusive: true,
      bytes: validates ? Math.max(0, ...tables.map((t) => tableBytes.get(t) ?? 0)) : 0,
    };
    items.push(item);
    if (!validates) continue;
    const raise = (x: DataItem | PostItem): void => void (x.rank = Math.max(x.rank ?? x.bytes, item.bytes));
    for (const t of tables) raise(loadedBy.get(t)!);
    for (const d of item.after!) raise(built.get(d)!);
  }
  return items;
}

/** Each entry's section as pg_restore's --section reads it: an entry of no section (a comment, an ACL, a security
 *  label) belongs to the section of the last entry before it that has one, pre-data at the start. So a table's ACL
 *  counts as pre-data, and in a pg_dump 17 archive a large object's comment and ACL count as data. */
export function effectiveSections(toc: readonly TocEntry[]): Map<number, Exclude<TocSection, 'none'>> {
  const out = new Map<number, Exclude<TocSection, 'none'>>();
  let current: Exclude<TocSection, 'none'> = 'pre-data';
  for (const e of toc) {
    if (e.section !== 'none') current = e.section;
    out.set(e.dumpId, current);
  }
  return out;
}

/** Selected TABLE DATA entries whose TABLE entry is selected too (so created by this restore's pre-data). A
 *  FOREIGN TABLE's data is never among them: a TRUNCATE there would empty the remote table. */
function createdTableData(toc: readonly TocEntry[], selected: Set<number>): number[] {
  const byId = new Map(toc.map((e) => [e.dumpId, e]));
  return toc
    .filter((e) => e.desc === 'TABLE DATA' && selected.has(e.dumpId))
    .filter((e) => e.dependencies.some((d) => byId.get(d)?.desc === 'TABLE' && selected.has(d)))
    .map((e) => e.dumpId);
}

/** The text of a pg_restore -L list: one "dumpId; desc tag" line per entry, in the given order. */
export function renderRestoreList(dumpIds: readonly number[], toc: readonly TocEntry[]): string {
  const byId = new Map(toc.map((e) => [e.dumpId, e]));
  return dumpIds.map((id) => `${id}; ${byId.get(id)?.desc ?? ''} ${(byId.get(id)?.tag ?? '').replace(/\n/g, ' ')}`).join('\n') + '\n';
}
