/** docs/api.md and the route table stay in step: one row per route with the same method, path and
 *  permission, and the role table matches rolePermissions. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rolePermissions, roles, routes } from '../../src/api/index.ts';

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'api.md'), 'utf8');

describe('docs/api.md', () => {
  it('lists every route with its permission, and no other', () => {
    const rows = [...doc.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
    const table = Object.values(routes).map((r) => `${r.method} ${r.url} ${r.permission}`).sort();
    expect(rows).toEqual(table);
  });
  it('documents what each role may do', () => {
    for (const role of roles) {
      const row = new RegExp(`^\\| ${role} \\| (.*) \\|$`, 'm').exec(doc);
      expect(row, role).not.toBeNull();
      const cells = row![1]!.split(' | ');
      expect(cells).toEqual(['read', 'backup', 'restore', 'manage', 'admin'].map((p) => (rolePermissions[role].has(p as never) ? 'yes' : '—')));
    }
  });
});
