/** docs/errors.md and the code stay in step: every error class in src/ (named <Category>Error<What>) has a
 *  `## Code` heading, and every heading names a class that exists. Codes are persisted and used by scripts. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const abstractBases = new Set(['PgvaultError', 'UserError', 'IntegrityError', 'TransientError', 'InternalError']);

function errorClassesInCode(): Set<string> {
  const names = new Set<string>();
  for (const file of sources(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^export\s+(abstract\s+)?class\s+((?:User|Integrity|Transient|Internal|Storage)Error\w*)\s+extends/gm)) {
      const name = m[2]!;
      if (m[1] || abstractBases.has(name)) continue;
      names.add(name);
    }
  }
  return names;
}

function codesInDocs(): Set<string> {
  const text = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  return new Set([...text.matchAll(/^##\s+(\w+)\s*$/gm)].map((m) => m[1]!));
}

describe('docs/errors.md', () => {
  it('documents every error code in the code', () => {
    const documented = codesInDocs();
    const missing = [...errorClassesInCode()].filter((c) => !documented.has(c)).sort();
    expect(missing, 'error classes without a "## Code" section in docs/errors.md').toEqual([]);
  });
  it('documents no code that does not exist', () => {
    const inCode = errorClassesInCode();
    const stale = [...codesInDocs()].filter((c) => !inCode.has(c)).sort();
    expect(stale, 'sections in docs/errors.md whose class is gone').toEqual([]);
  });
});
