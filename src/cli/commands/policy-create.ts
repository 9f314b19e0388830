/** `pgvault policy create NAME --vault V --schedule R/…/P1D --retain Default=P30D …`: schedules and retention
 *  rules of a vault. Validation of intervals and durations happens on the server (one place). */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { contextFor } from '../context.ts';
import { collect } from '../options.ts';

const defaultPriority: Record<string, number> = { Default: 0, Weekly: 1, Monthly: 2, Yearly: 3 };
type Tag = 'Default' | 'Weekly' | 'Monthly' | 'Yearly';

/** TAG=DURATION[:PRIORITY], e.g. Weekly=P12W or Yearly=P10Y:5. */
export function parseRetain(text: string): { tag: Tag; duration: string; priority: number } {
  const m = /^(Default|Weekly|Monthly|Yearly)=([^:]+)(?::(\d{1,4}))?$/.exec(text);
  if (!m) {
    throw new UserErrorInvalidInput(`--retain "${text}" is not TAG=DURATION[:PRIORITY]`, {
      hint: 'For example --retain Default=P30D --retain Weekly=P12W --retain Yearly=P10Y (tags: Default, Weekly, Monthly, Yearly).',
      details: { field: '--retain' },
    });
  }
  const tag = m[1] as Tag;
  return { tag, duration: m[2] as string, priority: m[3] === undefined ? (defaultPriority[tag] ?? 0) : Number(m[3]) };
}

export function register(policy: Command): void {
  policy
    .command('create')
    .description('create a backup policy in a vault')
    .argument('<name>', 'policy name (unique in its vault)')
    .requiredOption('--vault <vault>', 'vault name or id')
    .requiredOption('--schedule <interval>', 'ISO 8601 repeating interval, e.g. R/2026-01-04T02:00:00/P1D (repeatable)', collect, [])
    .option('--time-zone <tz>', 'IANA time zone of the schedules', 'UTC')
    .requiredOption('--retain <TAG=DURATION[:PRIORITY]>', 'retention rule, e.g. Default=P30D, Weekly=P12W (repeatable)', collect, [])
    .action(async (name: string, opts: { vault: string; schedule: string[]; timeZone: string; retain: string[] }, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      const body = {
        vault: opts.vault,
        name,
        schedules: opts.schedule.map((repeatingInterval) => ({ repeatingInterval, timeZone: opts.timeZone })),
        retentionRules: opts.retain.map(parseRetain),
      };
      print.record(await client.call(routes.policyCreate, { body }));
    });
}
