/** How the CLI prints results: `--output json` (stable, for scripts: exactly the API's JSON) or `table`
 *  (aligned columns for people). Never prints a secret it was not explicitly asked to show once. */

export type OutputMode = 'json' | 'table';

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.map(cell).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Aligned columns: headers in capitals, two spaces between columns, no trailing spaces. */
export function formatTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r)).replace(/[\r\n\t]/g, ' ')));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** One resource as `key: value` lines, keys aligned. */
export function formatRecord(record: Record<string, unknown>): string {
  const keys = Object.keys(record);
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `${`${k}:`.padEnd(width + 1)} ${cell(record[k])}`).join('\n') + '\n';
}

export interface Printer {
  mode: OutputMode;
  /** A list: JSON prints the value as given (e.g. a page), table prints rows. */
  list<T>(value: unknown, rows: T[], columns: Column<T>[]): void;
  /** One resource. */
  record(value: Record<string, unknown>): void;
  /** A line for people (suppressed in json mode so stdout stays one JSON document). */
  note(text: string): void;
}

export function makePrinter(mode: OutputMode, out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Printer {
  return {
    mode,
    list(value, rows, columns) {
      if (mode === 'json') out(JSON.stringify(value, null, 2) + '\n');
      else out(rows.length === 0 ? '(none)\n' : formatTable(rows, columns));
    },
    record(value) {
      if (mode === 'json') out(JSON.stringify(value, null, 2) + '\n');
      else out(formatRecord(value));
    },
    note(text) {
      if (mode === 'table') err(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}
