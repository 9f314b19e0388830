/** The README's tour runs end to end: PostgreSQL 15 → pgvault (embedded defaults, driven by the CLI) →
 *  restore into another major → data equal → clean-up. */
import { describe, expect, it } from 'vitest';
import { runTour } from './tour.ts';

describe('the tour', () => {
  it('backs up a sample database and restores it into another major version with equal data', async () => {
    const lines: string[] = [];
    const r = await runTour({ log: (l) => lines.push(l) });
    expect(r.targetMajor).not.toBe(r.sourceMajor);
    expect(r.rows).toBe(20000);
    expect(lines.join('\n')).toContain('== 8. clean-up');
    expect(lines.join('\n')).not.toMatch(/tour-vault-[a-z0-9]{6}/);
  }, 400_000);
});
