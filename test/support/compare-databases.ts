/** Proves two databases equal, also across servers and majors 13–17: a normalized catalog description (schemas,
 *  tables and columns, types, constraints, indexes, views, functions, triggers, policies, rules, extensions,
 *  comments, sequences, owners, ACLs) read from pg_catalog through pg_get_*def(), plus per-table row counts and
 *  order-independent content hashes computed server-side, large object contents and sequence values.
 *  It only reads; it never diffs pg_dump text (that differs between majors) and never loads a table into Node. */
import type pg from 'pg';
import type { PgCluster } from './pg-cluster.ts';

export interface DatabaseRef {
  cluster: PgCluster;
  database: string;
}

export interface CompareOptions {
  /** Ignore grants to, policies for and ownership by roles of `a` that do not exist on `b`'s server (a restore
   *  onto another server may lack them). Default false. */
  ignoreMissingRoles?: boolean;
  /** Ignore who owns what (a restore with --no-owner). Default false. */
  ignoreOwners?: boolean;
  /** Compare the installed versions of extensions too (differ after a restore into a newer major). Default false. */
  extensionVersions?: boolean;
  /** Compare row counts, content hashes, large object contents and sequence values. Default true. */
  data?: boolean;
}

export interface Comparison {
  equal: boolean;
  /** One line per difference, each starting with the object's kind and name, e.g. "rows app.customers: …". */
  differences: string[];
}

export interface DescriptionEntry {
  value: string;
  /** Roles the entry names (grantee, owner, policy roles): used by ignoreMissingRoles. */
  roles?: string[];
  owner?: boolean;
  /** Entries of one group (an object's privileges) are ignored together: a restore applies an ACL all or nothing. */
  group?: string;
  /** A view's definition: its deparsed text varies between majors (16 stopped qualifying single-table columns). */
  viewdef?: boolean;
}
type Description = Map<string, DescriptionEntry>;

const userNamespaces = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;
function notExtensionMember(classTable: string, oidExpr: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${classTable}'::regclass AND e.objid = ${oidExpr} AND e.deptype = 'e')`;
}

/** A function's identity arguments without the "IN " mode that 14+ prints for procedures. */
const identityArgs = `regexp_replace(pg_get_function_identity_arguments(p.oid), '(^|, )IN ', '\\1', 'g')`;
/** Range and multirange constructors belong to their type (14+ adds multirange ones): not compared on their own. */
const notTypeConstructor = `NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid
  AND i.refclassid = 'pg_type'::regclass AND i.deptype = 'i')`;

/** Session settings that make every text form (timestamps, floats, bytea, qualified names) the same on both sides. */
const sessionSettings = [
  "SET search_path = ''",
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
  "SET lc_messages = 'C'",
  "SET statement_timeout = '0'",
  "SET client_min_messages = 'warning'",
];

type Row = Record<string, string | null>;

async function rows(client: pg.Client, sql: string): Promise<Row[]> {
  return (await client.query<Row>(sql)).rows;
}

function put(d: Description, key: string, value: string, extra: Omit<DescriptionEntry, 'value'> = {}): void {
  const prev = d.get(key);
  // Two catalog rows describing one key (never expected) must not hide each other.
  d.set(key, prev ? { ...prev, value: `${prev.value}\n${value}` } : { value, ...extra });
}

async function describeSchema(client: pg.Client, d: Description, opts: CompareOptions): Promise<void> {
  // Schemas. "public" changed owner and ACL defaults in 15: compare only its existence and comment.
  for (const r of await rows(client, `SELECT format('%I', n.nspname) AS name, pg_get_userbyid(n.nspowner) AS owner
      FROM pg_namespace n WHERE ${userNamespaces} AND ${notExtensionMember('pg_namespace', 'n.oid')}`)) {
    put(d, `schema ${r.name}`, 'exists');
    if (r.name !== 'public') put(d, `owner of schema ${r.name}`, r.owner ?? '', { roles: [r.owner ?? ''], owner: true });
  }

  for (const r of await rows(client, `SELECT format('%I', extname) AS name, format('%I', n.nspname) AS schema, extversion AS version
      FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace`)) {
    put(d, `extension ${r.name}`, `schema=${r.schema}${opts.extensionVersions ? ` version=${r.version}` : ''}`);
  }

  // Types: enums, domains, composites, ranges (arrays, row types of tables and multiranges are derived).
  for (const r of await rows(client, `SELECT format('%I.%I', n.nspname, t.typname) AS name, t.typtype::text AS kind,
        pg_get_userbyid(t.typowner) AS owner,
        CASE t.typtype
          WHEN 'e' THEN 'enum: ' || (SELECT string_agg(quote_literal(enumlabel), ', ' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid)
          WHEN 'd' THEN 'domain over ' || format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
                        || coalesce(' default ' || pg_get_expr(t.typdefaultbin, 0), '')
                        || coalesce(' collate ' || (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation AND t.typcollation <> (SELECT typcollation FROM pg_type WHERE oid = t.typbasetype)), '')
          WHEN 'c' THEN 'composite (' || (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
                                          FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) || ')'
          WHEN 'r' THEN 'range of ' || (SELECT format_type(rngsubtype, NULL) || coalesce(' diff ' || nullif(rngsubdiff::regproc::text, '-'), '') FROM pg_range WHERE rngtypid = t.oid)
          ELSE 'type ' || t.typtype::text
        END AS def
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      LEFT JOIN pg_class c ON c.oid = t.typrelid
      WHERE ${userNamespaces} AND t.typtype IN ('e', 'd', 'c', 'r', 'b')
        AND (t.typtype <> 'c' OR c.relkind = 'c')
        AND NOT (t.typtype = 'b' AND t.typcategory = 'A')
        AND ${notExtensionMember('pg_type', 't.oid')}`)) {
    put(d, `type ${r.name}`, r.def ?? '');
    put(d, `owner of type ${r.name}`, r.owner ?? '', { roles: [r.owner ?? ''], owner: true });
  }

  // Relations.
  for (const r of await rows(client, `SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS kind,
        c.relpersistence::text AS persistence, pg_get_userbyid(c.relowner) AS owner,
        c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls, array_to_string(c.reloptions, ',') AS options,
        CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey,
        CASE WHEN c.relispartition THEN (SELECT format('%I.%I', pn.nspname, p.relname) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                                         JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid)
                                     || ' ' || pg_get_expr(c.relpartbound, c.oid) END AS partition_of,
        CASE WHEN NOT c.relispartition THEN (SELECT string_agg(format('%I.%I', pn.nspname, p.relname), ', ' ORDER BY i.inhseqno)
                                             FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
                                             WHERE i.inhrelid = c.oid) END AS inherits,
        CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS viewdef,
        c.relispopulated AS populated
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userNamespaces} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
    const kindName = ({ r: 'table', p: 'table', f: 'foreign table', v: 'view', m: 'materialized view', S: 'sequence' } as Record<string, string>)[r.kind ?? ''] ?? 'relation';
    const parts = [`kind=${r.kind}`];
    if (r.persistence === 'u') parts.push('unlogged');
    if (r.rls) parts.push(`row level security${r.force_rls ? ' forced' : ''}`);
    if (r.options) parts.push(`with (${r.options})`);
    if (r.partkey) parts.push(`partition by ${r.partkey}`);
    if (r.partition_of) parts.push(`partition of ${r.partition_of}`);
    if (r.inherits) parts.push(`inherits ${r.inherits}`);
    if (r.kind === 'm') parts.push(r.populated ? 'populated' : 'not populated');
    if (r.viewdef) parts.push(`as ${r.viewdef.trim()}`);
    put(d, `${kindName} ${r.name}`, parts.join('; '), { viewdef: r.viewdef !== null });
    put(d, `owner of ${kindName} ${r.name}`, r.owner ?? '', { roles: [r.owner ?? ''], owner: true });
  }

  // Columns of tables (views' columns follow from their definitions).
  for (const r of await rows(client, `SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname) AS name,
        row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS pos,
        format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, a.attidentity::text AS identity,
        a.attgenerated::text AS generated, pg_get_expr(ad.adbin, ad.adrelid) AS default_expr, a.attislocal AS local,
        CASE WHEN a.attcollation <> t.typcollation THEN (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
             JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END AS collation
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE ${userNamespaces} AND c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
        AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
    const parts = [`#${r.pos}`, r.type ?? ''];
    if (r.collation) parts.push(`collate ${r.collation}`);
    if (r.notnull) parts.push('not null');
    if (r.identity) parts.push(r.identity === 'a' ? 'generated always as identity' : 'generated by default as identity');
    if (r.generated) parts.push(`generated always as (${r.default_expr}) stored`);
    else if (r.default_expr) parts.push(`default ${r.default_expr}`);
    if (!r.local) parts.push('inherited');
    put(d, `column ${r.name}`, parts.join(' '));
  }

  // Sequences' parameters and which column owns them.
  for (const r of await rows(client, `SELECT format('%I.%I', n.nspname, c.relname) AS name,
        format('%s start %s increment %s min %s max %s cache %s%s', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END) AS params,
        (SELECT format('%I.%I.%I', tn.nspname, t.relname, a.attname) || CASE dep.deptype WHEN 'i' THEN ' (identity)' ELSE '' END
           FROM pg_depend dep JOIN pg_class t ON t.oid = dep.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = dep.refobjsubid
          WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.refclassid = 'pg_class'::regclass
            AND dep.deptype IN ('a', 'i') AND dep.refobjsubid > 0) AS owned_by
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userNamespaces} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
    put(d, `sequence parameters ${r.name}`, `${r.params}${r.owned_by ? ` owned by ${r.owned_by}` : ''}`);
  }

  // Constraints of tables and domains.
  for (const r of await rows(client, `SELECT format('%I', con.conname) AS name, con.contype::text AS kind,
        CASE WHEN con.conrelid <> 0 THEN 'table ' || (SELECT format('%I.%I', tn.nspname, t.relname) FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE t.oid = con.conrelid)
             ELSE 'domain ' || (SELECT format('%I.%I', tn.nspname, t.typname) FROM pg_type t JOIN pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = con.contypid) END AS target,
        pg_get_constraintdef(con.oid, true) AS def, con.conislocal AS local
      FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
      WHERE ${userNamespaces} AND (con.conrelid <> 0 OR con.contypid <> 0)
        -- 17 records a domain's NOT NULL as a constraint too; the type entry already says "not null".
        AND con.contype <> 'n'
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.deptype = 'e' AND
              ((e.classid = 'pg_class'::regclass AND e.objid = con.conrelid) OR (e.classid = 'pg_type'::regclass AND e.objid = con.contypid)))`)) {
    put(d, `constraint ${r.name} on ${r.target}`, `${r.kind}: ${r.def}${r.local ? '' : ' (inherited)'}`);
  }

  // Indexes, as CREATE INDEX text (qualified, since search_path is empty).
  for (const r of await rows(client, `SELECT format('%I.%I', n.nspname, ic.relname) AS name, pg_get_indexdef(i.indexrelid) AS def,
        i.indisclustered AS clustered
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE ${userNamespaces} AND ${notExtensionMember('pg_class', 'i.indrelid')}`)) {
    put(d, `index ${r.name}`, `${r.def}${r.clustered ? ' (clustered)' : ''}`);
  }

  // Functions, procedures, window functions and aggregates.
  for (const r of await rows(client, `SELECT format('%I.%I(%s)', n.nspname, p.proname, ${identityArgs}) AS name,
        p.prokind::text AS kind, pg_get_userbyid(p.proowner) AS owner,
        CASE WHEN p.prokind = 'a' THEN (SELECT format('aggregate returns %s sfunc %s stype %s finalfunc %s combinefunc %s initcond %s',
                 pg_get_function_result(p.oid), a.aggtransfn::regproc, format_type(a.aggtranstype, NULL), a.aggfinalfn::regproc,
                 a.aggcombinefn::regproc, coalesce(quote_literal(a.agginitval), 'null')) FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
             ELSE pg_get_functiondef(p.oid) END AS def
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE ${userNamespaces} AND ${notExtensionMember('pg_proc', 'p.oid')} AND ${notTypeConstructor}`)) {
    const kindName = r.kind === 'p' ? 'procedure' : r.kind === 'a' ? 'aggregate' : 'function';
    const [head = '', ...body] = (r.def ?? '').trim().split('\n');
    // 14+ prints procedures' argument modes ("IN x"); 13 does not.
    const def = [r.kind === 'p' ? head.replace(/(\(|, )IN /g, '$1') : head, ...body].join('\n');
    put(d, `${kindName} ${r.name}`, def);
    put(d, `owner of ${kindName} ${r.name}`, r.owner ?? '', { roles: [r.owner ?? ''], owner: true });
  }

  // Triggers defined by users (not internal, not clones on partitions).
  for (const r of await rows(client, `SELECT format('%I', tg.tgname) AS name, format('%I.%I', n.nspname, c.relname) AS tbl,
        pg_get_triggerdef(tg.oid, true) AS def, tg.tgenabled::text AS enabled
      FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userNamespaces} AND NOT tg.tgisinternal AND tg.tgparentid = 0 AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
    put(d, `trigger ${r.name} on ${r.tbl}`, `${r.def}${r.enabled === 'O' ? '' : ` (enabled=${r.enabled})`}`);
  }

  // Rules other than views' own.
  for (const r of await rows(client, `SELECT format('%I', rw.rulename) AS name, format('%I.%I', n.nspname, c.relname) AS tbl, pg_get_ruledef(rw.oid, true) AS def
      FROM pg_rewrite rw JOIN pg_class c ON c.oid = rw.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userNamespaces} AND rw.rulename <> '_RETURN' AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
    put(d, `rule ${r.name} on ${r.tbl}`, r.def ?? '');
  }

  // Row-level security policies.
  for (const r of await rows(client, `SELECT format('%I', pol.polname) AS name, format('%I.%I', n.nspname, c.relname) AS tbl,
        pol.polcmd::text AS cmd, pol.polpermissive AS permissive,
        (SELECT string_agg(CASE WHEN rid = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(rid) END, ',' ORDER BY 1) FROM unnest(pol.polroles) rid) AS roles,
        pg_get_expr(pol.polqual, pol.polrelid) AS qual, pg_get_expr(pol.polwithcheck, pol.polrelid) AS check_expr
      FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userNamespaces}`)) {
    put(d, `policy ${r.name} on ${r.tbl}`,
      `${r.permissive ? 'permissive' : 'restrictive'} for ${r.cmd} to ${r.roles} using (${r.qual ?? ''}) with check (${r.check_expr ?? ''})`,
      { roles: (r.roles ?? '').split(',').filter((x) => x !== 'PUBLIC') });
  }

  // Comments on user objects (system objects have oids below 16384).
  for (const r of await rows(client, `SELECT pg_describe_object(ds.classoid, ds.objoid, ds.objsubid) AS obj, ds.description,
        (SELECT string_agg(pg_get_userbyid(rid), ',') FROM pg_policy pol, unnest(pol.polroles) rid
          WHERE ds.classoid = 'pg_policy'::regclass AND pol.oid = ds.objoid AND rid <> 0) AS policy_roles
      FROM pg_description ds
      WHERE ds.objoid >= 16384
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = ds.classoid AND e.objid = ds.objoid AND e.deptype = 'e')
        AND NOT (ds.classoid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass
                 AND e.objid = (SELECT indrelid FROM pg_index WHERE indexrelid = ds.objoid) AND e.deptype = 'e'))`)) {
    // A comment on a policy for a missing role goes with the policy.
    put(d, `comment on ${r.obj}`, r.description ?? '', { roles: r.policy_roles ? r.policy_roles.split(',') : [] });
  }

  // Privileges: one entry per (object, grantee, privilege); the owner's own privileges are implicit and skipped.
  const acls = `
    SELECT 'table ' || format('%I.%I', n.nspname, c.relname) AS obj, c.relowner AS owner,
           coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${userNamespaces} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${notExtensionMember('pg_class', 'c.oid')}
    UNION ALL
    SELECT 'column ' || format('%I.%I.%I', n.nspname, c.relname, a.attname), c.relowner, a.attacl
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${userNamespaces} AND a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'schema ' || format('%I', n.nspname), n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
      FROM pg_namespace n WHERE ${userNamespaces} AND n.nspname <> 'public' AND ${notExtensionMember('pg_namespace', 'n.oid')}
    UNION ALL
    SELECT 'function ' || format('%I.%I(%s)', n.nspname, p.proname, ${identityArgs}), p.proowner,
           coalesce(p.proacl, acldefault('f', p.proowner))
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE ${userNamespaces} AND ${notExtensionMember('pg_proc', 'p.oid')} AND ${notTypeConstructor}
    UNION ALL
    SELECT 'type ' || format('%I.%I', n.nspname, t.typname), t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace LEFT JOIN pg_class c ON c.oid = t.typrelid
     WHERE ${userNamespaces} AND t.typtype IN ('e', 'd', 'c', 'r', 'b') AND (t.typtype <> 'c' OR c.relkind = 'c')
       AND NOT (t.typtype = 'b' AND t.typcategory = 'A') AND ${notExtensionMember('pg_type', 't.oid')}
    UNION ALL
    SELECT 'large object ' || l.oid, l.lomowner, coalesce(l.lomacl, acldefault('L', l.lomowner)) FROM pg_largeobject_metadata l
    UNION ALL
    SELECT format('default privileges of %s in %s on %s', pg_get_userbyid(da.defaclrole),
                  coalesce((SELECT format('schema %I', nspname) FROM pg_namespace WHERE oid = da.defaclnamespace), 'all schemas'),
                  da.defaclobjtype), 0, da.defaclacl
      FROM pg_default_acl da`;
  for (const r of await rows(client, `SELECT x.obj, CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(e.grantee) END AS grantee,
        e.privilege_type AS privilege, e.is_grantable AS grantable
      FROM (${acls}) x, LATERAL aclexplode(x.acl) e WHERE e.grantee <> x.owner`)) {
    put(d, `privilege ${r.privilege} on ${r.obj} to ${r.grantee}`, r.grantable ? 'with grant option' : 'granted',
      { roles: r.grantee === 'PUBLIC' ? [] : [r.grantee ?? ''], group: `privileges on ${r.obj}` });
  }

  // Large objects' owners (their contents are data).
  for (const r of await rows(client, 'SELECT l.oid::text AS oid, pg_get_userbyid(l.lomowner) AS owner FROM pg_largeobject_metadata l')) {
    put(d, `large object ${r.oid}`, 'exists');
    put(d, `owner of large object ${r.oid}`, r.owner ?? '', { roles: [r.owner ?? ''], owner: true });
  }
}

async function describeData(client: pg.Client, d: Description): Promise<void> {
  // Every heap with rows of its own: plain tables, partitions, inheritance children (ONLY), populated matviews.
  const heaps = await rows(client, `SELECT c.oid::text AS oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS kind,
        c.relispopulated AS populated,
        (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attname COLLATE "C") FROM pg_attribute a
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS cols
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userNamespaces} AND c.relkind IN ('r', 'm') AND ${notExtensionMember('pg_class', 'c.oid')}`);
  for (const h of heaps) {
    if (h.kind === 'm' && !h.populated) {
      put(d, `rows ${h.name}`, 'not populated');
      continue;
    }
    // Columns by name, so the hash does not depend on column order; sums of md5 halves: order-independent, O(1) memory.
    const [r] = await rows(client, `SELECT count(*)::text AS n,
          coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text AS s1,
          coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text AS s2
        FROM (SELECT md5(ROW(${h.cols ?? ''})::text) AS h FROM ONLY ${h.name} t) x`);
    put(d, `rows ${h.name}`, `count=${r?.n} hash=${r?.s1}/${r?.s2}`);
  }

  for (const r of await rows(client, `SELECT l.oid::text AS oid, length(lo_get(l.oid))::text AS size, md5(lo_get(l.oid)) AS md5
      FROM pg_largeobject_metadata l`)) {
    put(d, `large object contents ${r.oid}`, `size=${r.size} md5=${r.md5}`);
  }

  const seqs = await rows(client, `SELECT format('%I.%I', n.nspname, c.relname) AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${userNamespaces} AND c.relkind = 'S' AND ${notExtensionMember('pg_class', 'c.oid')}`);
  for (const s of seqs) {
    const [r] = await rows(client, `SELECT last_value::text AS last_value, is_called FROM ${s.name}`);
    put(d, `sequence value ${s.name}`, `last_value=${r?.last_value} is_called=${r?.is_called}`);
  }
}

/** The normalized description of one database: key → value. Exposed for tests and for debugging a difference. */
export async function describeDatabase(ref: DatabaseRef, opts: CompareOptions = {}): Promise<Map<string, DescriptionEntry>> {
  const client = await ref.cluster.connect(ref.database);
  try {
    for (const s of sessionSettings) await client.query(s);
    // One snapshot for the whole description.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const d: Description = new Map();
    await describeSchema(client, d, opts);
    if (opts.data !== false) await describeData(client, d);
    await client.query('COMMIT');
    return d;
  } finally {
    await client.end();
  }
}

/** Drops `qualifier.` before column names in a deparsed view, on both sides alike: PostgreSQL 16 stopped
 *  qualifying columns of single-relation views, so "orders.id" (≤15) and "id" (≥16) mean the same. Only used
 *  across majors; schema-qualified relation names lose their schema too, which both sides share. */
function unqualifyColumns(def: string): string {
  return def.replace(/(?<![\w"$.])(?:[A-Za-z_][\w$]*|"(?:[^"]|"")+")\.(?=[A-Za-z_"])/g, '');
}

function clip(s: string, max = 160): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

function explain(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  if (al.length > 1 || bl.length > 1) {
    const i = al.findIndex((line, k) => line !== bl[k]);
    const at = i === -1 ? al.length : i;
    return `line ${at + 1}: a=${clip(al[at] ?? '(none)')} b=${clip(bl[at] ?? '(none)')}`;
  }
  return `a=${clip(a)} b=${clip(b)}`;
}

/** Compare two databases (on one server or on two, of equal or different majors). */
export async function compareDatabases(a: DatabaseRef, b: DatabaseRef, opts: CompareOptions = {}): Promise<Comparison> {
  const [da, db, bRoles] = await Promise.all([
    describeDatabase(a, opts),
    describeDatabase(b, opts),
    b.cluster.query<{ rolname: string }>('SELECT rolname FROM pg_roles', [], b.database),
  ]);
  const rolesOnB = new Set(bRoles.map((r) => r.rolname));
  const ignored = new Set<string>();
  const ignoredGroups = new Set<string>();
  for (const [key, e] of da) {
    if (opts.ignoreOwners && e.owner) ignored.add(key);
    if (opts.ignoreMissingRoles && (e.roles ?? []).some((r) => !rolesOnB.has(r))) {
      ignored.add(key);
      if (e.group) ignoredGroups.add(e.group);
    }
  }
  for (const d of [da, db]) {
    for (const [key, e] of d) {
      if ((opts.ignoreOwners && e.owner) || (e.group && ignoredGroups.has(e.group))) ignored.add(key);
    }
  }
  const acrossMajors = a.cluster.major !== b.cluster.major;
  const value = (e: DescriptionEntry): string => (acrossMajors && e.viewdef ? unqualifyColumns(e.value) : e.value);

  const differences: string[] = [];
  for (const [key, e] of da) {
    if (ignored.has(key)) continue;
    const other = db.get(key);
    if (!other) differences.push(`${key}: missing in b (a: ${clip(e.value)})`);
    else if (value(other) !== value(e)) differences.push(`${key}: differs: ${explain(value(e), value(other))}`);
  }
  for (const [key, e] of db) {
    if (!ignored.has(key) && !da.has(key)) differences.push(`${key}: only in b (b: ${clip(e.value)})`);
  }
  differences.sort();
  return { equal: differences.length === 0, differences };
}

/** Throws an Error listing every difference (at most 50 lines) unless the databases are equal. */
export async function assertDatabasesEqual(a: DatabaseRef, b: DatabaseRef, opts: CompareOptions = {}): Promise<void> {
  const { equal, differences } = await compareDatabases(a, b, opts);
  if (equal) return;
  const shown = differences.slice(0, 50);
  const more = differences.length > shown.length ? `\n… and ${differences.length - shown.length} more` : '';
  throw new Error(
    `databases differ: "${a.database}" on PostgreSQL ${a.cluster.version} port ${a.cluster.port} vs "${b.database}" on ` +
      `PostgreSQL ${b.cluster.version} port ${b.cluster.port} (${differences.length} differences):\n${shown.join('\n')}${more}`,
  );
}
