/** Edits of an archive's header and TOC bytes for the stream pg_restore reads at restore time. The archive in
 *  the vault is never changed: restore as files and the spool file keep its exact bytes and SHA-256. */
import { ArchiveReader } from './archive-reader.ts';
import type { TocEntry } from './archive-format.ts';

export interface TruncateBeforeCopyResult {
  /** The header and TOC with the edited copy statements; a valid archive prefix of a new length. */
  bytes: Buffer;
  /** Dump ids whose copy statement now empties the table first. */
  rewritten: number[];
}

/** Makes the COPY of each chosen TABLE DATA entry empty its table first, in the same transaction, and load its rows
 *  frozen: "TRUNCATE TABLE ONLY t;\nCOPY t (…) FROM stdin WITH (FREEZE);\n". pg_restore sends an entry's copy
 *  statement with one PQexec, so both commands travel in one Query message and the server runs them as one implicit
 *  transaction; on a server with wal_level = minimal, the COPY into the new, empty file of that transaction then
 *  writes no WAL. FREEZE is allowed because that transaction gave the table its file: the rows are written already
 *  frozen and hinted (and, from PostgreSQL 14, their pages marked all-visible and all-frozen), so the index builds,
 *  key validations and the first VACUUM after the restore do not rewrite every heap page to set hint bits. The rows
 *  are visible to every snapshot at once, which for a database the restore is creating changes nothing.
 *  pg_restore -j does the same for the tables it created in its run; the restore of pgvault creates them in a
 *  separate pre-data step, so it says so here. Only for tables this restore created: the TRUNCATE would empty
 *  a table that held rows.
 *
 *  An entry is left as it is when its COPY does not name its own table (pg_dump --load-via-partition-root
 *  copies into the root) or when its bytes are not the UTF-8 of the parsed text (another archive encoding). */
export function truncateBeforeCopy(tocBytes: Buffer, toc: readonly TocEntry[], dumpIds: ReadonlySet<number>): TruncateBeforeCopyResult {
  const reader = new ArchiveReader();
  reader.write(tocBytes);
  if (reader.tocEndOffset !== tocBytes.length) throw new RangeError('truncateBeforeCopy needs exactly the header and TOC bytes');
  const intSize = reader.header!.intSize;
  const edits: { offset: number; length: number; bytes: Buffer }[] = [];
  const rewritten: number[] = [];
  for (const e of toc) {
    if (!dumpIds.has(e.dumpId)) continue;
    const sql = truncatingCopy(e);
    const span = reader.copyStmtSpans.get(e.dumpId);
    if (sql === undefined || !span) continue;
    const raw = tocBytes.subarray(span.offset + 1 + intSize, span.offset + span.length);
    if (!raw.equals(Buffer.from(e.copyStmt!, 'utf8'))) continue;
    const stmt = Buffer.from(sql, 'utf8');
    edits.push({ offset: span.offset, length: span.length, bytes: Buffer.concat([writeInt(stmt.length, intSize), stmt]) });
    rewritten.push(e.dumpId);
  }
  if (edits.length === 0) return { bytes: tocBytes, rewritten };
  edits.sort((a, b) => a.offset - b.offset);
  const parts: Buffer[] = [];
  let at = 0;
  for (const ed of edits) {
    parts.push(tocBytes.subarray(at, ed.offset), ed.bytes);
    at = ed.offset + ed.length;
  }
  parts.push(tocBytes.subarray(at));
  return { bytes: Buffer.concat(parts), rewritten };
}

/** A TABLE DATA entry's copy statement preceded by the TRUNCATE of its table, its rows loaded frozen (see
 *  truncateBeforeCopy): "TRUNCATE TABLE ONLY t;\nCOPY t (…) FROM stdin WITH (FREEZE);\n". Undefined when its COPY does
 *  not name its own table (pg_dump --load-via-partition-root copies into the root). pg_dump ends every copy statement
 *  with " FROM stdin;\n"; anything else keeps its COPY as it is, without FREEZE. */
export function truncatingCopy(e: TocEntry): string | undefined {
  if (e.desc !== 'TABLE DATA' || !e.copyStmt || e.namespace === null || e.tag === null) return undefined;
  const name = copyTarget(e.copyStmt);
  if (!name || name.schema !== e.namespace || name.table !== e.tag) return undefined;
  const copy = e.copyStmt.endsWith(fromStdin) ? `${e.copyStmt.slice(0, -2)} WITH (FREEZE);\n` : e.copyStmt;
  return `TRUNCATE TABLE ONLY ${name.text};\n${copy}`;
}

const fromStdin = ' FROM stdin;\n';

/** The custom format's WriteInt: a sign byte, then intSize bytes little-endian. */
function writeInt(value: number, intSize: number): Buffer {
  const b = Buffer.alloc(1 + intSize);
  let v = value;
  for (let i = 0; i < intSize; i++) {
    b[1 + i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}

/** The table a pg_dump copy statement ("COPY schema.table (cols) FROM stdin;") loads: its text as written and the
 *  two names unquoted; undefined for anything else. */
export function copyTarget(copyStmt: string): { text: string; schema: string; table: string } | undefined {
  if (!copyStmt.startsWith('COPY ')) return undefined;
  let i = 5;
  const ident = (): string | undefined => {
    if (copyStmt[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= copyStmt.length) return undefined;
        if (copyStmt[i] === '"') {
          if (copyStmt[i + 1] !== '"') break;
          out += '"';
          i += 2;
        } else out += copyStmt[i++];
      }
      i++;
      return out;
    }
    const m = /^[a-z_][a-z0-9_$]*/.exec(copyStmt.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  const schema = ident();
  if (schema === undefined || copyStmt[i] !== '.') return undefined;
  i++;
  const table = ident();
  if (table === undefined || copyStmt[i] !== ' ') return undefined;
  const rest = copyStmt.slice(i + 1);
  if (!rest.startsWith('(') && !rest.startsWith('FROM stdin')) return undefined;
  return { text: copyStmt.slice(5, i), schema, table };
}
