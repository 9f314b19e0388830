/** The TextDecoder label for each PostgreSQL encoding a tool's stderr may be in. */
import { describe, expect, it } from 'vitest';
import { textDecoderLabel } from './pg-tool-process.ts';

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
