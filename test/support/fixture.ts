/** The realistic, awkward fixture database: schemas with odd names, enums, domains, composite and range types,
 *  identity columns and odd sequences, partitions and inheritance, views, materialized views, plpgsql functions
 *  and triggers, row-level security, grants to roles that exist only on the source, comments, contrib
 *  extensions, large objects, an unlogged and an empty table. All bulk rows are generated server-side and
 *  seeded (setseed), so two builds on one major produce equal content. It never drops anything it did not create. */
import type pg from 'pg';
import { InternalErrorUnexpected, UserErrorInvalidInput } from '../../src/lib/index.ts';
import type { PgCluster } from './pg-cluster.ts';

/** Roles the fixture grants to and owns objects with; they exist only on the source cluster (NOLOGIN). */
export const fixtureRoles = ['fixture_reader', 'fixture_app'] as const;
/** Large object oids the fixture creates (fixed, so comparisons can name them). */
export const fixtureLargeObjects = { greeting: 424242, blob: 424243, empty: 424244 } as const;
/** Contrib extensions the fixture installs when the server ships them. */
export const fixtureExtensions = ['hstore', 'citext', 'pgcrypto'] as const;

export interface FixtureOptions {
  /** Row-count multiplier: scale 1 is ~11 MB of data for tests, each unit adds ~9 MB: 1 GB is scale ~115. */
  scale?: number;
  /** Seed of all generated content; equal seeds give equal content on one major. */
  seed?: number;
}

export interface FixtureInfo {
  database: string;
  scale: number;
  seed: number;
  /** Contrib extensions missing from this server's binaries (their columns fall back to plain types). */
  skippedExtensions: string[];
  /** Row counts per table as built ("schema.table" → rows; partitions and inheritance children by their own name). */
  rowCounts: Record<string, number>;
  /** pg_database_size() after the build. */
  sizeBytes: number;
}

export interface ChurnOptions {
  /** About this fraction of the touched tables' rows is updated (60%), deleted (20%) or inserted (20%). */
  fraction: number;
  /** recent: the newest rows of app.events and app.orders; scattered-one: rows all over app.events;
   *  scattered-all: rows all over every data table. */
  pattern: 'recent' | 'scattered-one' | 'scattered-all';
  seed: number;
}

export interface ChurnResult {
  updated: number;
  deleted: number;
  inserted: number;
}

const words = [
  'the', 'backup', 'order', 'customer', 'invoice', 'shipped', 'payment', 'refund', 'warehouse', 'delivery', 'quickly',
  'slowly', 'green', 'blue', 'large', 'small', 'first', 'second', 'again', 'never', 'always', 'window', 'garden',
  'river', 'mountain', 'city', 'train', 'coffee', 'table', 'chair', 'report', 'quarter', 'annual', 'budget', 'team',
  'meeting', 'project', 'release', 'version', 'server', 'database', 'query', 'index', 'vacuum', 'replica', 'commit',
  'rollback', 'schema', 'policy', 'retention', 'weekly', 'monthly', 'yearly', 'and', 'or', 'with', 'without', 'from',
  'into', 'over', 'under', 'between', 'Straße', 'Größe', 'Müller', 'Bäckerei', 'grün', 'schön', 'über', 'für',
  'Ärger', 'Öl', 'Übung', 'café', 'naïve', 'résumé', 'façade', 'jalapeño', 'smörgåsbord', 'Zürich', 'København',
  'Kraków', 'Łódź', 'İstanbul', 'Ελλάδα', 'Москва', '東京', '北京', '서울', 'مرحبا', 'שלום', '🙂', 'ok', 'error',
  'warning', 'timeout', 'latency', 'throughput', 'bytes', 'gigabyte', 'kilometre', 'litre', 'euro', 'dollar', 'franc',
  'price', 'discount', 'voucher', 'return', 'cancelled', 'pending', 'approved', 'rejected', 'open', 'closed',
  'urgent', 'normal', 'low', 'high', 'north', 'south', 'east', 'west', 'morning', 'evening', 'monday', 'friday',
  'spring', 'autumn', 'winter', 'summer', 'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'lambda', 'sigma', 'omega',
  'apple', 'banana', 'cherry', 'plum', 'walnut', 'hazelnut', 'pepper', 'salt', 'bread', 'cheese', 'butter', 'milk',
];

function sqlLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Session-local helpers (pg_temp): they vanish with the session and never become part of the fixture. */
const sessionHelpers = [
  // plpgsql, not sql: 2.4 times faster per call, which matters at benchmark scale.
  `CREATE FUNCTION pg_temp.words(n integer) RETURNS text LANGUAGE plpgsql VOLATILE AS $f$
   DECLARE
     w constant text[] := ARRAY[${words.map(sqlLiteral).join(',')}]::text[];
     picked text[] := '{}';
   BEGIN
     FOR i IN 1..greatest(n, 1) LOOP
       picked := picked || w[1 + floor(random() * ${words.length})::int];
     END LOOP;
     RETURN array_to_string(picked, ' ');
   END $f$`,
  `CREATE FUNCTION pg_temp.pick(seed integer, k text) RETURNS double precision LANGUAGE sql IMMUTABLE AS $f$
     SELECT ('x' || substr(md5(seed::text || ':' || k), 1, 8))::bit(32)::bigint / 4294967296.0
   $f$`,
  `CREATE FUNCTION pg_temp.random_bytes(blocks integer) RETURNS bytea LANGUAGE sql VOLATILE AS $f$
     SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, greatest(blocks, 1))
   $f$`,
];

function seedValue(seed: number): number {
  return ((((Math.trunc(seed) % 2000) + 2000) % 2000) / 1000) - 1; // setseed() takes [-1, 1]
}

async function exec(client: pg.Client, statements: string[]): Promise<void> {
  for (const sql of statements) {
    try {
      await client.query(sql);
    } catch (err) {
      const first = sql.trim().split('\n')[0]?.slice(0, 160) ?? '';
      throw new InternalErrorUnexpected(`fixture statement failed: ${first}: ${(err as Error).message}`, {
        cause: err,
        hint: 'The fixture must build on every major 13-17: fix the statement in test/support/fixture.ts.',
      });
    }
  }
}

async function openSession(cluster: PgCluster, database: string, seed: number): Promise<pg.Client> {
  const client = await cluster.connect(database);
  await exec(client, [
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET client_min_messages = 'warning'",
    ...sessionHelpers,
    `SELECT setseed(${seedValue(seed)})`,
  ]);
  return client;
}

// ---- row generators shared by the build and churn (count and first number are SQL expressions) ----

function customersInsert(n: number, ext: Set<string>): string {
  return `INSERT INTO app.customers (email, name, address, tags, attrs, balance, created_at, note, secret_hash)
    SELECT 'kunde' || g || '@' || (ARRAY['example.com','beispiel.de','exämple.org'])[1 + g % 3],
      initcap(pg_temp.words(2)),
      ROW(initcap(pg_temp.words(1)) || 'weg ' || (1 + g % 200),
          (ARRAY['Berlin','München','Zürich','Köln','Paris','Lyon','New York'])[1 + floor(random() * 7)::int],
          lpad((g * 37 % 99999)::text, 5, '0'), (ARRAY['DE','CH','FR','US'])[1 + g % 4])::app.address,
      ARRAY(SELECT pg_temp.words(1) FROM generate_series(1, g % 4)),
      ${ext.has('hstore')
        ? `hstore(ARRAY['tier','source'], ARRAY[(ARRAY['gold','silver','bronze'])[1 + g % 3], pg_temp.words(1)])`
        : `jsonb_build_object('tier', (ARRAY['gold','silver','bronze'])[1 + g % 3], 'source', pg_temp.words(1))`},
      round((random() * 10000)::numeric, 2),
      timestamptz '2022-01-01 00:00:00+00' + g * interval '37 minutes' + random() * interval '1 hour',
      CASE WHEN g % 5 = 0 THEN NULL ELSE pg_temp.words(3 + g % 8) END,
      ${ext.has('pgcrypto') ? `digest(g::text, 'sha256')` : `decode(md5(g::text), 'hex')`}
    FROM generate_series(1, ${n}) g`;
}

function ordersInsert(count: string, customers: number, products: number): string {
  return `INSERT INTO app.orders (customer_id, ordered_at, status, total, items, shipping)
    SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE 1000 + 7 * ((g::bigint * 7919) % ${customers}) END,
      timestamptz '2023-01-01 00:00:00+00' + random() * interval '1150 days',
      (ARRAY['new','paid','paid','shipped','cancelled','returned','über-fällig'])[1 + floor(random() * 7)::int]::app.order_status,
      round((random() * 1000)::numeric, 2),
      jsonb_build_object(
        'items', (SELECT jsonb_agg(jsonb_build_object(
                    'sku', 'SKU-' || to_char(1 + floor(random() * ${products})::int, 'FM000000'),
                    'qty', 1 + floor(random() * 5)::int,
                    'note', CASE WHEN random() < 0.2 THEN pg_temp.words(4) END))
                  FROM generate_series(1, 1 + g % 4)),
        'channel', (ARRAY['web','app','phone'])[1 + g % 3],
        'gift', g % 11 = 0),
      CASE WHEN g % 4 = 0 THEN NULL
           ELSE ROW(initcap(pg_temp.words(1)) || 'straße ' || (1 + g % 90), 'Köln', lpad((g % 99999)::text, 5, '0'), 'DE')::app.address END
    FROM generate_series(1, ${count}) g`;
}

function eventsInsert(count: string, customers: number): string {
  return `INSERT INTO app.events (occurred_at, kind, customer_id, message, payload, amount, checksum, client_ip, trace)
    SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '17 seconds' + random() * interval '10 seconds',
      (ARRAY['login','logout','view','search','cart','checkout','payment','refund','error','export'])[1 + floor(random() * 10)::int],
      CASE WHEN random() < 0.1 THEN NULL ELSE 1000 + 7 * floor(random() * ${customers})::int END,
      pg_temp.words(6 + floor(random() * 30)::int),
      jsonb_build_object('v', 2,
        'agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)','curl/8.4.0','pgvault-test/1','Safari/605.1.15'])[1 + g % 4],
        'path', '/' || replace(pg_temp.words(3), ' ', '/'),
        'latency_ms', round((random() * 900)::numeric, 3),
        'tags', to_jsonb(string_to_array(pg_temp.words(1 + g % 5), ' ')),
        'ok', random() < 0.95),
      round((random() * 100000 - 20000)::numeric, 4),
      CASE WHEN g % 4 = 0 THEN pg_temp.random_bytes(2) END,
      ('10.' || (g % 256) || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int)::inet,
      md5(random()::text)::uuid
    FROM generate_series(1, ${count}) g`;
}

function kundenInsert(count: string): string {
  return `INSERT INTO "Straße & Co"."Kunden Liste" ("Name", "Größe", "Zustand", "Tags", "Geändert am")
    SELECT initcap(pg_temp.words(2)), round((random() * 999)::numeric, 2),
      (ARRAY['offen','in Prüfung','geschlossen'])[1 + floor(random() * 3)::int]::"Straße & Co"."Zustand",
      string_to_array(pg_temp.words(1 + g % 3), ' ')::%CITEXT%[],
      timestamp '2024-02-29 12:00:00' + g * interval '1 hour 1 minute'
    FROM generate_series(1, ${count}) g`;
}

function schemaStatements(ext: Set<string>): string[] {
  const citext = ext.has('citext') ? 'citext' : 'text';
  const hstore = ext.has('hstore') ? 'hstore' : 'jsonb';
  return [
    // Schemas and types.
    `CREATE SCHEMA app`,
    `COMMENT ON SCHEMA app IS 'Orders, customers and events of the web shop'`,
    `CREATE SCHEMA "Straße & Co" AUTHORIZATION fixture_app`,
    `COMMENT ON SCHEMA "Straße & Co" IS 'Schema mit Leerzeichen, Umlauten & Sonderzeichen'`,
    `CREATE SCHEMA archive`,
    `CREATE SCHEMA audit`,
    `CREATE TYPE app.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled', 'über-fällig')`,
    `ALTER TYPE app.order_status ADD VALUE 'returned' BEFORE 'cancelled'`,
    `COMMENT ON TYPE app.order_status IS 'Life of an order; ''returned'' was added later, between others'`,
    `CREATE DOMAIN app.email AS ${citext} CONSTRAINT email_has_at CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+$')`,
    `CREATE DOMAIN app.money_amount AS numeric(12,2) DEFAULT 0 NOT NULL CONSTRAINT money_not_negative CHECK (VALUE >= 0)`,
    `CREATE TYPE app.address AS (street text, city text, zip text, country character(2))`,
    `COMMENT ON TYPE app.address IS 'Postal address'`,
    `CREATE TYPE app.float_range AS RANGE (subtype = double precision, subtype_diff = float8mi)`,
    `CREATE TYPE "Straße & Co"."Zustand" AS ENUM ('offen', 'in Prüfung', 'geschlossen')`,
    `ALTER TYPE "Straße & Co"."Zustand" OWNER TO fixture_app`,
    // Sequences with odd parameters.
    `CREATE SEQUENCE app.order_no_seq AS bigint START 100003 INCREMENT 17 CACHE 1`,
    `COMMENT ON SEQUENCE app.order_no_seq IS 'Order numbers: start 100003, step 17'`,
    `CREATE SEQUENCE app.countdown_seq AS integer INCREMENT -3 MINVALUE -1000 MAXVALUE 1000 START 999 CYCLE`,
    `CREATE SEQUENCE app.unused_seq START 42`,
    `CREATE SEQUENCE "Straße & Co"."Nummernkreis" AS integer INCREMENT 5 START 10`,
    `ALTER SEQUENCE "Straße & Co"."Nummernkreis" OWNER TO fixture_app`,
    // Tables.
    `CREATE TABLE public.settings (key text PRIMARY KEY, value jsonb NOT NULL, updated_at timestamptz)`,
    `CREATE TABLE app.customers (
       id bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000 INCREMENT BY 7) PRIMARY KEY,
       email app.email NOT NULL CONSTRAINT customers_email_key UNIQUE,
       name text NOT NULL,
       address app.address,
       tags text[] NOT NULL DEFAULT '{}',
       attrs ${hstore},
       balance app.money_amount,
       created_at timestamptz NOT NULL,
       updated_at timestamptz,
       note ${citext},
       secret_hash bytea)`,
    `COMMENT ON TABLE app.customers IS 'People who order; ids step by 7'`,
    `COMMENT ON COLUMN app.customers.email IS 'Case-insensitive, unique'`,
    `CREATE INDEX customers_lower_name_idx ON app.customers (lower(name))`,
    `COMMENT ON INDEX app.customers_lower_name_idx IS 'Name search'`,
    `CREATE INDEX customers_tags_idx ON app.customers USING gin (tags)`,
    `CREATE INDEX customers_attrs_idx ON app.customers USING gin (attrs${hstore === 'jsonb' ? ' jsonb_path_ops' : ''})`,
    `CREATE TABLE app.products (
       id integer GENERATED BY DEFAULT AS IDENTITY (START WITH 5 INCREMENT BY 3) PRIMARY KEY,
       sku text NOT NULL,
       title text NOT NULL,
       description text,
       price numeric(10,2) NOT NULL CONSTRAINT price_not_negative CHECK (price >= 0),
       dims jsonb,
       image bytea,
       available tstzrange,
       weight_range app.float_range,
       stock_levels int4range,
       CONSTRAINT products_sku_key UNIQUE (sku) DEFERRABLE INITIALLY DEFERRED)`,
    `CREATE INDEX products_dims_idx ON app.products USING gin (dims jsonb_path_ops)`,
    `CREATE INDEX products_available_idx ON app.products USING gist (available)`,
    `CREATE INDEX products_title_hash_idx ON app.products USING hash (title)`,
    `CREATE TABLE app.orders (
       id bigint NOT NULL DEFAULT nextval('app.order_no_seq'),
       customer_id bigint CONSTRAINT orders_customer_fkey REFERENCES app.customers (id) ON DELETE SET NULL,
       ordered_at timestamptz NOT NULL,
       status app.order_status NOT NULL DEFAULT 'new',
       total numeric(14,2) NOT NULL,
       total_gross numeric(14,2) GENERATED ALWAYS AS (round(total * 1.19, 2)) STORED,
       items jsonb NOT NULL,
       shipping app.address,
       PRIMARY KEY (id, ordered_at)) PARTITION BY RANGE (ordered_at)`,
    `ALTER SEQUENCE app.order_no_seq OWNED BY app.orders.id`,
    `CREATE TABLE app.orders_2023 PARTITION OF app.orders FOR VALUES FROM ('2023-01-01 00:00:00+00') TO ('2024-01-01 00:00:00+00')`,
    `CREATE TABLE app.orders_2024 PARTITION OF app.orders FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')`,
    `CREATE TABLE app.orders_2025 PARTITION OF app.orders FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00')`,
    `CREATE TABLE app.orders_default PARTITION OF app.orders DEFAULT`,
    `CREATE INDEX orders_customer_idx ON app.orders (customer_id)`,
    `CREATE INDEX orders_paid_idx ON app.orders (ordered_at DESC) INCLUDE (total) WHERE status = 'paid'`,
    `CREATE TABLE app.events (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       occurred_at timestamptz NOT NULL,
       kind text NOT NULL,
       customer_id bigint,
       message text,
       payload jsonb,
       amount numeric(14,4),
       checksum bytea,
       client_ip inet,
       trace uuid)`,
    `CREATE INDEX events_occurred_brin ON app.events USING brin (occurred_at)`,
    `CREATE INDEX events_kind_idx ON app.events (kind, occurred_at DESC NULLS FIRST)`,
    `CREATE TABLE app.tenant_notes (
       id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       tenant text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL)`,
    `ALTER TABLE app.tenant_notes ENABLE ROW LEVEL SECURITY`,
    `CREATE POLICY tenant_isolation ON app.tenant_notes FOR ALL TO fixture_app
       USING (tenant = current_setting('app.tenant', true)) WITH CHECK (tenant = current_setting('app.tenant', true))`,
    `COMMENT ON POLICY tenant_isolation ON app.tenant_notes IS 'Each tenant sees its own notes'`,
    `CREATE POLICY reader_all ON app.tenant_notes FOR SELECT TO fixture_reader USING (true)`,
    `CREATE POLICY reader_no_secrets ON app.tenant_notes AS RESTRICTIVE FOR SELECT TO fixture_reader USING (tenant <> 'secret')`,
    `CREATE UNLOGGED TABLE app.session_cache (token text PRIMARY KEY, customer_id bigint, data jsonb, expires_at timestamptz)`,
    `CREATE TABLE app.empty_table (id integer PRIMARY KEY, label text NOT NULL DEFAULT 'nothing', created_at timestamptz DEFAULT now())`,
    `COMMENT ON TABLE app.empty_table IS 'Never has rows'`,
    `CREATE TABLE app.room_bookings (
       id serial PRIMARY KEY, room integer NOT NULL, during tstzrange NOT NULL,
       CONSTRAINT room_one_no_overlap EXCLUDE USING gist (during WITH &&) WHERE (room = 1))`,
    `CREATE TABLE archive.documents (id bigint NOT NULL, title text NOT NULL, body text, created_at timestamptz NOT NULL,
       CONSTRAINT documents_title_not_empty CHECK (length(title) > 0))`,
    `CREATE TABLE archive.invoices (amount numeric(12,2) NOT NULL, paid boolean NOT NULL DEFAULT false) INHERITS (archive.documents)`,
    `CREATE TABLE archive.letters (recipient app.address, pages smallint) INHERITS (archive.documents)`,
    `COMMENT ON TABLE archive.documents IS 'Parent of invoices and letters (table inheritance)'`,
    `CREATE TABLE "Straße & Co"."Kunden Liste" (
       "Nr" integer NOT NULL DEFAULT nextval('"Straße & Co"."Nummernkreis"') PRIMARY KEY,
       "Name" text NOT NULL,
       "Größe" numeric(5,2),
       "Zustand" "Straße & Co"."Zustand" NOT NULL DEFAULT 'offen',
       "Tags" ${citext}[],
       "Geändert am" timestamp without time zone)`,
    `ALTER TABLE "Straße & Co"."Kunden Liste" OWNER TO fixture_app`,
    `COMMENT ON COLUMN "Straße & Co"."Kunden Liste"."Größe" IS 'Größe in Metern – mit Umlaut'`,
    `CREATE TABLE audit.log (
       id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
       table_name text NOT NULL, op character(1) NOT NULL, row_id bigint, diff jsonb)`,
    // Functions, procedures, an aggregate and triggers.
    `CREATE FUNCTION app.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $f$
     BEGIN
       -- Deterministic on purpose (no now()): churn must give equal content on equal seeds.
       NEW.updated_at := coalesce(OLD.updated_at, OLD.created_at) + interval '1 day';
       RETURN NEW;
     END $f$`,
    `CREATE TRIGGER customers_touch BEFORE UPDATE ON app.customers FOR EACH ROW
       WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION app.touch_updated_at()`,
    `COMMENT ON TRIGGER customers_touch ON app.customers IS 'Keeps updated_at moving'`,
    `CREATE FUNCTION audit.record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $f$
     BEGIN
       INSERT INTO audit.log (table_name, op, row_id, diff)
       VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, left(TG_OP, 1),
               CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
               CASE WHEN TG_OP = 'UPDATE' THEN jsonb_build_object('price', jsonb_build_array(OLD.price, NEW.price)) END);
       RETURN NULL;
     END $f$`,
    `CREATE TRIGGER products_audit AFTER INSERT OR UPDATE OR DELETE ON app.products FOR EACH ROW EXECUTE FUNCTION audit.record()`,
    `CREATE FUNCTION app.reject_negative_total() RETURNS trigger LANGUAGE plpgsql AS $f$
     BEGIN
       RAISE EXCEPTION 'order % has a negative total %', NEW.id, NEW.total USING ERRCODE = 'check_violation';
     END $f$`,
    `CREATE TRIGGER orders_total_guard AFTER INSERT OR UPDATE ON app.orders FOR EACH ROW
       WHEN (NEW.total < 0) EXECUTE FUNCTION app.reject_negative_total()`,
    `CREATE FUNCTION app.order_item_count(doc jsonb) RETURNS integer LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
       AS $f$ SELECT jsonb_array_length(doc -> 'items') $f$`,
    `CREATE FUNCTION app.format_price(amount numeric, currency text DEFAULT 'EUR') RETURNS text LANGUAGE plpgsql STABLE AS $f$
     BEGIN
       RETURN to_char(amount, 'FM999G999G990D00') || ' ' || currency;
     END $f$`,
    `COMMENT ON FUNCTION app.format_price(numeric, text) IS 'Money for humans'`,
    `REVOKE EXECUTE ON FUNCTION app.format_price(numeric, text) FROM PUBLIC`,
    `CREATE PROCEDURE app.forget_sessions(before timestamptz) LANGUAGE plpgsql AS $f$
     BEGIN
       DELETE FROM app.session_cache WHERE expires_at < before;
     END $f$`,
    `CREATE AGGREGATE app.concat_words(text) (SFUNC = textcat, STYPE = text, INITCOND = '')`,
  ];
}

function dataStatements(scale: number, ext: Set<string>): { statements: string[]; counts: Record<string, number> } {
  const n = (base: number): number => Math.max(1, Math.round(base * scale));
  const customers = n(1500);
  const products = n(400);
  const counts = {
    'app.customers': customers,
    'app.products': products,
    'app.orders': n(6000),
    'app.events': n(8000),
    'Straße & Co.Kunden Liste': n(300),
    'archive.documents': n(40),
    'archive.invoices': n(400),
    'archive.letters': n(120),
    'app.tenant_notes': n(200),
    'app.session_cache': n(100),
  };
  const citext = ext.has('citext') ? 'citext' : 'text';
  return {
    counts,
    statements: [
      `INSERT INTO public.settings VALUES
         ('retention', '{"days": 30, "tiers": ["hot", "cold"]}', '2025-03-30 01:30:00+00'),
         ('motd', '"Grüß Gott – willkommen"', NULL),
         ('limits', '{"max": 1e3, "nested": {"deep": [1, 2, {"x": null}]}}', '2025-10-26 02:30:00+00')`,
      customersInsert(customers, ext),
      `INSERT INTO app.products (sku, title, description, price, dims, image, available, weight_range, stock_levels)
       SELECT 'SKU-' || to_char(g, 'FM000000'), initcap(pg_temp.words(3)), pg_temp.words(20 + g % 60),
         round((random() * 500)::numeric + 0.99, 2),
         jsonb_build_object('w', round((random() * 100)::numeric, 1), 'h', round((random() * 100)::numeric, 1),
                            'unit', 'cm', 'colors', to_jsonb(string_to_array(pg_temp.words(1 + g % 3), ' '))),
         CASE WHEN g % 3 = 0 THEN pg_temp.random_bytes(4 + g % 16) END,
         tstzrange(timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day', timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day' + (1 + g % 90) * interval '1 day'),
         app.float_range(g % 7 * 0.5, g % 7 * 0.5 + 1 + random() * 10),
         CASE WHEN g % 9 = 0 THEN 'empty'::int4range ELSE int4range(g % 10, g % 10 + 100, '[]') END
       FROM generate_series(1, ${products}) g`,
      ordersInsert(String(counts['app.orders']), customers, products),
      eventsInsert(String(counts['app.events']), customers),
      kundenInsert(String(counts['Straße & Co.Kunden Liste'])).replace('%CITEXT%', citext),
      `INSERT INTO archive.documents (id, title, body, created_at)
       SELECT g, initcap(pg_temp.words(3)), pg_temp.words(40), timestamptz '2019-05-01 00:00:00+00' + g * interval '3 days'
       FROM generate_series(1, ${counts['archive.documents']}) g`,
      `INSERT INTO archive.invoices (id, title, body, created_at, amount, paid)
       SELECT 100000 + g, 'Rechnung ' || g, pg_temp.words(15 + g % 40), timestamptz '2020-01-01 00:00:00+00' + g * interval '5 hours',
         round((random() * 5000)::numeric, 2), random() < 0.7
       FROM generate_series(1, ${counts['archive.invoices']}) g`,
      `INSERT INTO archive.letters (id, title, body, created_at, recipient, pages)
       SELECT 200000 + g, 'Brief an ' || initcap(pg_temp.words(1)), pg_temp.words(200 + floor(random() * 900)::int),
         timestamptz '2021-06-01 00:00:00+00' + g * interval '1 day',
         ROW(initcap(pg_temp.words(1)) || 'gasse ' || g, 'Wien', lpad(g::text, 4, '0'), 'AT')::app.address, (1 + g % 12)::smallint
       FROM generate_series(1, ${counts['archive.letters']}) g`,
      `INSERT INTO app.tenant_notes (tenant, body, created_at)
       SELECT (ARRAY['acme','globex','initech','secret'])[1 + g % 4], pg_temp.words(10 + g % 30),
         timestamptz '2025-01-01 00:00:00+00' + g * interval '13 minutes'
       FROM generate_series(1, ${counts['app.tenant_notes']}) g`,
      `INSERT INTO app.session_cache (token, customer_id, data, expires_at)
       SELECT md5(random()::text), 1000 + 7 * (g % ${customers}), jsonb_build_object('cart', g % 5, 'lang', 'de'),
         timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
       FROM generate_series(1, ${counts['app.session_cache']}) g`,
      `INSERT INTO app.room_bookings (room, during)
       SELECT 1 + g % 3, tstzrange(timestamptz '2025-01-01 00:00:00+00' + g * interval '2 hours',
                                   timestamptz '2025-01-01 00:00:00+00' + g * interval '2 hours' + interval '90 minutes')
       FROM generate_series(1, 60) g`,
      `ALTER TABLE app.room_bookings ADD CONSTRAINT room_positive CHECK (room > 0) NOT VALID`,
      `COMMENT ON CONSTRAINT room_positive ON app.room_bookings IS 'Added later, never validated'`,
      // Sequences that have advanced outside of any table.
      `SELECT nextval('app.countdown_seq') FROM generate_series(1, 7)`,
    ],
  };
}

function viewsGrantsAndObjects(scale: number): string[] {
  const lo = fixtureLargeObjects;
  return [
    `CREATE VIEW app.customer_order_summary AS
       SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.total), 0) AS total
       FROM app.customers c LEFT JOIN app.orders o ON o.customer_id = c.id GROUP BY c.id, c.name`,
    `COMMENT ON VIEW app.customer_order_summary IS 'Orders per customer'`,
    `CREATE VIEW app.paid_orders WITH (security_barrier = true) AS
       SELECT id, customer_id, ordered_at, total FROM app.orders WHERE status = 'paid'`,
    `CREATE VIEW "Straße & Co"."Offene Kunden" AS
       SELECT "Nr", "Name", "Größe" FROM "Straße & Co"."Kunden Liste" WHERE "Zustand" = 'offen' WITH CASCADED CHECK OPTION`,
    `ALTER VIEW "Straße & Co"."Offene Kunden" OWNER TO fixture_app`,
    // Time-zone independent on purpose: a restore refreshes it in the target server's time zone.
    `CREATE MATERIALIZED VIEW app.daily_totals AS
       SELECT date_trunc('day', ordered_at AT TIME ZONE 'UTC') AS day, status, count(*) AS orders, sum(total) AS total
       FROM app.orders GROUP BY 1, 2 WITH DATA`,
    `CREATE UNIQUE INDEX daily_totals_day_status_idx ON app.daily_totals (day, status)`,
    `COMMENT ON MATERIALIZED VIEW app.daily_totals IS 'Refreshed nightly'`,
    `CREATE MATERIALIZED VIEW app.stale_report AS SELECT kind, count(*) AS events FROM app.events GROUP BY kind WITH NO DATA`,
    // Grants, including to roles that exist only on the source.
    `GRANT USAGE ON SCHEMA app, archive TO fixture_reader, fixture_app`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA app TO fixture_reader`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON app.orders, app.customers TO fixture_app`,
    `GRANT UPDATE (note, tags) ON app.customers TO fixture_reader`,
    `GRANT USAGE, SELECT ON SEQUENCE app.order_no_seq TO fixture_app`,
    `GRANT SELECT ON archive.invoices TO fixture_reader WITH GRANT OPTION`,
    `GRANT EXECUTE ON FUNCTION app.format_price(numeric, text) TO fixture_app`,
    `REVOKE USAGE ON TYPE app.order_status FROM PUBLIC`,
    `GRANT USAGE ON TYPE app.order_status TO fixture_app`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO fixture_reader`,
    `GRANT SELECT ON "Straße & Co"."Kunden Liste" TO fixture_reader`,
    // Large objects: text, random bytes, empty; one with a comment and an ACL, one owned by another role.
    `SELECT lo_from_bytea(${lo.greeting}, convert_to('Hallo Welt – große Grüße aus Köln 🙂', 'UTF8'))`,
    `SELECT lo_from_bytea(${lo.blob}, pg_temp.random_bytes(${Math.max(1, Math.round(2048 * scale))}))`,
    `SELECT lo_from_bytea(${lo.empty}, ''::bytea)`,
    `COMMENT ON LARGE OBJECT ${lo.greeting} IS 'A greeting with a comment and an ACL'`,
    `GRANT SELECT ON LARGE OBJECT ${lo.greeting} TO fixture_reader`,
    `ALTER LARGE OBJECT ${lo.blob} OWNER TO fixture_app`,
  ];
}

async function ensureRoles(cluster: PgCluster): Promise<void> {
  for (const role of fixtureRoles) {
    // Roles are cluster-wide: several fixture databases on one cluster share them.
    await cluster.query(`DO $d$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} NOLOGIN; END IF;
      EXCEPTION WHEN duplicate_object THEN NULL; END $d$`);
  }
}

/** Build the fixture into `database` (created when missing; it must not already hold the fixture). */
export async function buildFixture(cluster: PgCluster, database: string, opts: FixtureOptions = {}): Promise<FixtureInfo> {
  const scale = opts.scale ?? 1;
  const seed = opts.seed ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new UserErrorInvalidInput(`fixture scale ${String(scale)} is not a positive number`, { hint: 'Use 1 for tests, ~115 for 1 GB.' });
  }
  await ensureRoles(cluster);
  const exists = await cluster.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (exists.length === 0) await cluster.createDatabase(database);

  const available = await cluster.query<{ name: string }>('SELECT name FROM pg_available_extensions');
  const availableNames = new Set(available.map((r) => r.name));
  const ext = new Set(fixtureExtensions.filter((e) => availableNames.has(e)));
  const skippedExtensions = fixtureExtensions.filter((e) => !ext.has(e));

  const client = await openSession(cluster, database, seed);
  try {
    const already = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = 'app'");
    if (already.rowCount) {
      throw new UserErrorInvalidInput(`database "${database}" already holds a fixture (schema "app" exists)`, {
        hint: 'Build into a fresh database, or copy one with CREATE DATABASE … TEMPLATE.',
      });
    }
    await exec(client, [...ext].map((e) => `CREATE EXTENSION IF NOT EXISTS ${e} WITH SCHEMA public`));
    // Secondary indexes after the bulk load: building them once is far cheaper than maintaining them per row.
    const schema = schemaStatements(ext);
    const isIndex = (sql: string): boolean => /^(CREATE INDEX|COMMENT ON INDEX)/.test(sql);
    await exec(client, schema.filter((sql) => !isIndex(sql)));
    const data = dataStatements(scale, ext);
    await exec(client, data.statements);
    await exec(client, schema.filter(isIndex));
    await exec(client, viewsGrantsAndObjects(scale));
    const size = await client.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
    return { database, scale, seed, skippedExtensions, rowCounts: data.counts, sizeBytes: Number(size.rows[0]?.size ?? 0) };
  } finally {
    await client.end();
  }
}

interface ChurnTable {
  table: string;
  key: string;
  update: string; // SET clause
  deletable: boolean;
  insert?: (count: number) => string;
}

/** Update, delete and insert about `fraction` of the rows of the pattern's tables, deterministically per seed. */
export async function churn(cluster: PgCluster, database: string, opts: ChurnOptions): Promise<ChurnResult> {
  const { fraction, pattern, seed } = opts;
  if (!(fraction > 0 && fraction <= 1)) {
    throw new UserErrorInvalidInput(`churn fraction ${String(fraction)} is not in (0, 1]`, { hint: 'Use e.g. 0.01 for 1% of the rows.' });
  }
  if (!['recent', 'scattered-one', 'scattered-all'].includes(pattern)) {
    throw new UserErrorInvalidInput(`churn pattern "${String(pattern)}" is unknown`, { hint: "Use 'recent', 'scattered-one' or 'scattered-all'." });
  }
  const client = await openSession(cluster, database, seed);
  try {
    const citext = (await client.query("SELECT 1 FROM pg_extension WHERE extname = 'citext'")).rowCount ? 'citext' : 'text';
    const sizes = await client.query<{ customers: string; products: string }>(
      'SELECT (SELECT count(*) FROM app.customers) AS customers, (SELECT count(*) FROM app.products) AS products',
    );
    const customers = Math.max(1, Number(sizes.rows[0]?.customers ?? 1));
    const products = Math.max(1, Number(sizes.rows[0]?.products ?? 1));
    const s = Math.trunc(seed);
    const all: ChurnTable[] = [
      {
        table: 'app.events', key: 'id', deletable: true,
        update: `message = pg_temp.words(8 + floor(random() * 20)::int), payload = payload || jsonb_build_object('rev', ${s}), amount = round((random() * 1000)::numeric, 4)`,
        insert: (c) => eventsInsert(String(c), customers),
      },
      {
        table: 'app.orders', key: 'id', deletable: true,
        update: `status = 'shipped', total = round((random() * 1000)::numeric, 2), items = items || jsonb_build_object('rev', ${s})`,
        insert: (c) => ordersInsert(String(c), customers, products),
      },
      { table: 'app.customers', key: 'id', deletable: false, update: `name = initcap(pg_temp.words(2)), balance = round((random() * 10000)::numeric, 2)` },
      { table: 'app.products', key: 'id', deletable: true, update: `price = round((random() * 500)::numeric + 0.99, 2), description = pg_temp.words(25)` },
      {
        table: '"Straße & Co"."Kunden Liste"', key: '"Nr"', deletable: true,
        update: `"Größe" = round((random() * 999)::numeric, 2), "Zustand" = 'in Prüfung'`,
        insert: (c) => kundenInsert(String(c)).replace('%CITEXT%', citext),
      },
      { table: 'archive.letters', key: 'id', deletable: true, update: `body = pg_temp.words(300)` },
      { table: 'app.tenant_notes', key: 'id', deletable: true, update: `body = pg_temp.words(12)` },
    ];
    const tables = pattern === 'scattered-one' ? all.slice(0, 1) : pattern === 'recent' ? all.slice(0, 2) : all;
    const result: ChurnResult = { updated: 0, deleted: 0, inserted: 0 };
    for (const t of tables) {
      const count = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${t.table}`)).rows[0]?.n ?? 0);
      const pick = `pg_temp.pick(${s}, ${t.key}::text)`;
      let updateWhere: string;
      let deleteWhere: string;
      if (pattern === 'recent') {
        const window = Math.max(1, Math.round(0.8 * fraction * count));
        const newest = `${t.key} > coalesce((SELECT ${t.key} FROM ${t.table} ORDER BY ${t.key} DESC OFFSET ${window} LIMIT 1), -9223372036854775808)`;
        updateWhere = `${newest} AND ${pick} < 0.75`;
        deleteWhere = `${newest} AND ${pick} >= 0.75`;
      } else {
        updateWhere = `${pick} < ${0.6 * fraction}`;
        deleteWhere = `${pick} >= ${0.6 * fraction} AND ${pick} < ${0.8 * fraction}`;
      }
      // Deletes first, so the updates' window is not shifted by them; both select by key, not by scan order.
      if (t.deletable) result.deleted += (await client.query(`DELETE FROM ${t.table} WHERE ${deleteWhere}`)).rowCount ?? 0;
      else updateWhere = pattern === 'recent' ? updateWhere : `${pick} < ${0.8 * fraction}`;
      result.updated += (await client.query(`UPDATE ${t.table} SET ${t.update} WHERE ${updateWhere}`)).rowCount ?? 0;
      const inserts = Math.round(0.2 * fraction * count);
      if (t.insert && inserts > 0) result.inserted += (await client.query(t.insert(inserts))).rowCount ?? 0;
    }
    // A restore refreshes materialized views: keep the source's fresh so a round trip compares equal.
    await client.query('REFRESH MATERIALIZED VIEW app.daily_totals');
    return result;
  } finally {
    await client.end();
  }
}
