import { describe, expect, it } from 'vitest';
import { formatRecord, formatTable, makePrinter } from './output.ts';

describe('CLI output', () => {
  it('aligns table columns with capital headers and no trailing spaces', () => {
    const text = formatTable(
      [
        { id: 'a', name: 'short', n: 1 },
        { id: 'bbbb', name: 'a much longer name', n: null },
      ],
      [
        { header: 'id', value: (r) => r.id },
        { header: 'name', value: (r) => r.name },
        { header: 'n', value: (r) => r.n },
      ],
    );
    expect(text).toBe(['ID    NAME                N', 'a     short               1', 'bbbb  a much longer name  -', ''].join('\n'));
  });
  it('keeps one row per line even when a value holds a newline', () => {
    expect(formatTable([{ v: 'x\ny' }], [{ header: 'v', value: (r) => r.v }]).split('\n')).toHaveLength(3);
  });
  it('prints records as aligned key: value lines', () => {
    expect(formatRecord({ id: 'x', longer: ['a', 'b'] })).toBe('id:     x\nlonger: a,b\n');
  });
  it('json mode prints exactly one JSON document to stdout and no notes', () => {
    let out = '';
    let err = '';
    const p = makePrinter('json', (s) => (out += s), (s) => (err += s));
    p.list({ items: [{ a: 1 }], nextCursor: null }, [{ a: 1 }], [{ header: 'a', value: (r) => r.a }]);
    p.note('for people');
    expect(JSON.parse(out)).toEqual({ items: [{ a: 1 }], nextCursor: null });
    expect(err).toBe('');
  });
});
