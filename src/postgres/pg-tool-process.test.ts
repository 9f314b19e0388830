/** The TextDecoder label for each PostgreSQL encoding a tool's stderr may be in, and the stderr lines held back until
 *  the encoding is known. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnPgTool, textDecoderLabel } from './pg-tool-process.ts';

describe('textDecoderLabel', () => {
  it('maps PostgreSQL encoding names to labels Node decodes, and the rest to undefined (read as UTF-8)', () => {
    expect(textDecoderLabel('UTF8')).toBe('utf-8');
    expect(textDecoderLabel('LATIN1')).toBe('iso-8859-1');
    expect(textDecoderLabel('LATIN9')).toBe('iso-8859-15');
    expect(textDecoderLabel('LATIN5')).toBe('iso-8859-9');
    expect(textDecoderLabel('ISO_8859_5')).toBe('iso-8859-5');
    expect(textDecoderLabel('WIN1251')).toBe('windows-1251');
    expect(textDecoderLabel('KOI8R')).toBe('koi8-r');
    expect(textDecoderLabel('EUC_JP')).toBe('euc-jp');
    expect(textDecoderLabel('SQL_ASCII')).toBeUndefined();
    expect(textDecoderLabel('MULE_INTERNAL')).toBeUndefined();
    // A label this Node lacks (LATIN10 is ISO 8859-16, not in the WHATWG set): undefined, not a throw.
    expect(textDecoderLabel('LATIN10')).toBeUndefined();
    for (const [pg, bytes, text] of [
      ['LATIN1', [0x47, 0x72, 0xf6, 0xdf, 0x65], 'Größe'],
      ['WIN1251', [0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2], 'Привет'],
    ] as const) {
      expect(new TextDecoder(textDecoderLabel(pg)!).decode(Uint8Array.from(bytes))).toBe(text);
    }
  });
});

describe('stderr lines held until the encoding is known', () => {
  /** A stand-in for pg_dump that writes a UTF-8 table name to stderr, then exits a little later: as pg_dump does when
   *  its client_encoding (UTF8, from ALTER DATABASE … SET) is not the database's (LATIN1), and its TOC with the
   *  ENCODING entry is still in a stdio buffer. */
  const run = async (hold: boolean): Promise<string[]> => {
    const dir = mkdtempSync(join(tmpdir(), 'pgvault-fake-tool-'));
    try {
      const tool = join(dir, 'pg_dump');
      writeFileSync(tool, `#!/bin/sh\nprintf 'pg_dump: dumping contents of table "public.Gr\\303\\266\\303\\237e"\\n' >&2\nsleep 0.3\n`);
      chmodSync(tool, 0o755);
      const p = spawnPgTool({
        tool: 'pg_dump',
        client: { tool: 'pg_dump', path: tool, version: '15.0', major: 15, minor: 0 },
        cfg: { host: '/tmp', port: 5432, user: 'u', database: 'd' },
        args: [],
        stderrEncoding: 'LATIN1',
        ...(hold ? { holdStderrUntilEncoding: true } : {}),
      });
      await new Promise((r) => setTimeout(r, 150)); // the line is in; the "TOC" comes now
      p.setStderrEncoding('UTF8');
      return (await p.done).log;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('decodes a line that came before the encoding with that encoding when held, with the guess otherwise', async () => {
    expect(await run(true)).toContain('pg_dump: dumping contents of table "public.Größe"');
    expect(await run(false)).toContain('pg_dump: dumping contents of table "public.GrÃ¶Ã\u009fe"');
  });
});
