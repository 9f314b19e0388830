/** The import-layering check (STYLE.md, "Who may import whom"): every import in src/ must respect the
 *  module table, must enter another module only through its index.ts, and modules must form no cycle.
 *  Exits 1 and lists every violation; run by `npm test`. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

export const allowed: Record<string, string[]> = {
  lib: [],
  storage: ['lib'],
  vault: ['lib', 'storage'],
  postgres: ['lib'],
  catalog: ['lib'],
  secrets: ['lib'],
  jobs: ['lib', 'catalog'],
  operations: ['lib', 'vault', 'postgres', 'catalog', 'secrets', 'storage'],
  api: ['lib', 'operations', 'catalog', 'jobs'],
  cli: ['lib', 'api'],
  app: ['lib', 'storage', 'vault', 'postgres', 'catalog', 'secrets', 'jobs', 'operations', 'api', 'cli'],
};
/** cli may only use api/contract, not the server. */
const cliMayEnter = new Set(['api/contract']);
/** A module's contract/index.ts is a second public entry: its interface without its implementations. */
const isContractEntry = (entered: string): boolean => entered === 'contract/index';

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|tsx)$/.test(name)) out.push(p);
  }
  return out;
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

const violations: string[] = [];
const edges = new Map<string, Set<string>>();

for (const file of walk(src)) {
  const rel = relative(src, file).split(sep);
  const mod = rel[0] ?? '';
  if (!(mod in allowed)) {
    violations.push(`${relative(root, file)}: module "${mod}" is not in the layer table`);
    continue;
  }
  const isTest = file.endsWith('.test.ts');
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    if (!spec || !spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    const trel = relative(src, target).split(sep);
    if (trel[0] === '..') continue; // outside src (tests reaching test/support)
    const tmod = trel[0] ?? '';
    if (tmod === mod) continue;
    if (!isTest) edges.set(mod, (edges.get(mod) ?? new Set()).add(tmod));
    const where = `${relative(root, file)} imports "${spec}"`;
    if (!(allowed[mod] ?? []).includes(tmod)) violations.push(`${where}: ${mod} may not import ${tmod}`);
    const entered = trel.slice(1).join('/').replace(/\.tsx?$/, '');
    const sub = trel.slice(0, 2).join('/');
    if (mod === 'cli' && tmod === 'api') {
      if (!cliMayEnter.has(sub) || !(entered === 'contract/index' || entered === 'contract')) {
        violations.push(`${where}: cli may only import api/contract/index.ts`);
      }
    } else if (entered !== 'index' && entered !== '' && !isContractEntry(entered)) {
      violations.push(`${where}: enter module "${tmod}" through its index.ts or contract/index.ts`);
    }
  }
}

// Cycles between modules (tests excluded).
const seen = new Set<string>();
const stack: string[] = [];
function visit(m: string): void {
  if (stack.includes(m)) {
    violations.push(`module cycle: ${[...stack.slice(stack.indexOf(m)), m].join(' → ')}`);
    return;
  }
  if (seen.has(m)) return;
  seen.add(m);
  stack.push(m);
  for (const n of edges.get(m) ?? []) visit(n);
  stack.pop();
}
for (const m of edges.keys()) visit(m);

if (violations.length > 0) {
  console.error(`layer check: ${violations.length} violation(s)`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log(`layer check: ${walk(src).length} files, no violations`);
