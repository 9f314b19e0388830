/** Retention at the pure level: validation, tagging by priority in the policy's zone, expiry arithmetic,
 *  the never-expire-the-newest rule, and a simulated year of a daily policy asserting exactly which points
 *  exist and which expired on given dates. */
import { describe, expect, it } from 'vitest';
import { UserErrorInvalidInput } from '../errors.ts';
import { occurrencesBetween, parseSchedule } from '../schedule/index.ts';
import { expiryFor, parseRetentionRules, pointsToExpire, tagFor, type RetentionRuleInput, type RetentionTag } from './index.ts';

const policyRules: RetentionRuleInput[] = [
  { tag: 'Default', duration: 'P7D', priority: 0 },
  { tag: 'Weekly', duration: 'P4W', priority: 10 },
  { tag: 'Monthly', duration: 'P3M', priority: 20 },
  { tag: 'Yearly', duration: 'P10Y', priority: 30 },
];

function refused(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(UserErrorInvalidInput);
  expect((caught as UserErrorInvalidInput).message).toMatch(message);
  expect((caught as UserErrorInvalidInput).hint).toBeTruthy();
}

describe('parseRetentionRules', () => {
  it('accepts a full policy and sorts by priority, highest number first, ties to the rarer tag', () => {
    expect(parseRetentionRules(policyRules).map((r) => r.tag)).toEqual(['Yearly', 'Monthly', 'Weekly', 'Default']);
    expect(parseRetentionRules([{ tag: 'Default', duration: 'P120M', priority: 1 }])[0]!.durationText).toBe('P120M');
    expect(parseRetentionRules([{ tag: 'Default', duration: 'P3653D', priority: 1 }])).toHaveLength(1);
    const tied = parseRetentionRules([
      { tag: 'Default', duration: 'P1D', priority: 0 },
      { tag: 'Weekly', duration: 'P1W', priority: 0 },
      { tag: 'Yearly', duration: 'P1Y', priority: 0 },
    ]);
    expect(tied.map((r) => r.tag)).toEqual(['Yearly', 'Weekly', 'Default']);
  });
  it('refuses bad rules with coded errors and hints', () => {
    refused(() => parseRetentionRules([]), /missing/);
    refused(() => parseRetentionRules([{ tag: 'Weekly', duration: 'P1W', priority: 1 }]), /lack a Default/);
    refused(() => parseRetentionRules([{ tag: 'Daily' as RetentionTag, duration: 'P1W', priority: 1 }]), /unknown/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: 'P11Y', priority: 1 }]), /longer than ten years/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: 'P121M', priority: 1 }]), /longer than ten years/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: 'P3654D', priority: 1 }]), /longer than ten years/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: 'P10YT24H', priority: 1 }]), /longer than ten years/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: 'P0D', priority: 1 }]), /zero/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: '-P1D', priority: 1 }]), /negative/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: '30 days', priority: 1 }]), /not an ISO 8601 duration/);
    refused(() => parseRetentionRules([{ tag: 'Default', duration: 'P1D', priority: 1.5 }]), /whole number/);
    refused(
      () => parseRetentionRules([{ tag: 'Default', duration: 'P1D', priority: 5 }, { tag: 'Default', duration: 'P2D', priority: 6 }]),
      /appears twice/,
    );
    refused(
      () => parseRetentionRules([{ tag: 'Default', duration: 'P1D', priority: 50 }, { tag: 'Weekly', duration: 'P2D', priority: 5 }]),
      /Default outranks it/,
    );
  });
});

describe('tagFor and expiryFor', () => {
  const rules = parseRetentionRules(policyRules);
  it('takes the highest-priority tag the point matches', () => {
    const at = (s: string): { createdAt: Date } => ({ createdAt: new Date(s) });
    // Thursday 2026-01-01: first of year, month and ISO week → Yearly wins.
    expect(tagFor(at('2026-01-01T01:00Z'), [], rules, 'UTC')).toBe('Yearly');
    // Monday 2026-02-02 after a point on Sunday 2026-02-01: first of its week, not of its month → Weekly.
    expect(tagFor(at('2026-02-02T01:00Z'), [at('2026-02-01T01:00Z')], rules, 'UTC')).toBe('Weekly');
    expect(tagFor(at('2026-02-03T01:00Z'), [at('2026-02-01T01:00Z'), at('2026-02-02T01:00Z')], rules, 'UTC')).toBe('Default');
    // Later points in the list do not make an earlier one "not first".
    expect(tagFor(at('2026-02-01T01:00Z'), [at('2026-01-05T01:00Z'), at('2026-02-03T01:00Z')], rules, 'UTC')).toBe('Monthly');
    // Priority, not rarity, decides: with Weekly above Monthly, Monday 1 June (first of both) is Weekly.
    const weeklyFirst = parseRetentionRules([
      { tag: 'Default', duration: 'P7D', priority: 0 },
      { tag: 'Monthly', duration: 'P3M', priority: 20 },
      { tag: 'Weekly', duration: 'P4W', priority: 30 },
    ]);
    expect(tagFor(at('2026-06-01T01:00Z'), [at('2026-05-31T01:00Z')], weeklyFirst, 'UTC')).toBe('Weekly');
    expect(tagFor(at('2026-07-01T01:00Z'), [at('2026-06-30T01:00Z')], weeklyFirst, 'UTC')).toBe('Monthly');
    // Without a Monthly rule, the first of a month that is also first of its week is Weekly.
    const noMonthly = parseRetentionRules(policyRules.filter((r) => r.tag !== 'Monthly'));
    expect(tagFor(at('2026-06-01T01:00Z'), [at('2026-05-31T01:00Z')], noMonthly, 'UTC')).toBe('Weekly');
  });
  it('reads weeks, months and years in the policy time zone', () => {
    const prev = [{ createdAt: new Date('2026-01-31T12:00Z') }];
    // 23:30Z on Jan 31 is already 05:00 on Feb 1 in Kolkata: first of February there, not in UTC.
    expect(tagFor({ createdAt: new Date('2026-01-31T23:30Z') }, prev, rules, 'Asia/Kolkata')).toBe('Monthly');
    expect(tagFor({ createdAt: new Date('2026-01-31T23:30Z') }, prev, rules, 'UTC')).toBe('Default');
    // ISO week-year: Sunday 2027-01-03 belongs to 2026-W53, Monday 2027-01-04 starts 2027-W01.
    const yearRules = parseRetentionRules([{ tag: 'Default', duration: 'P1D', priority: 1 }, { tag: 'Weekly', duration: 'P1W', priority: 9 }]);
    const p = [{ createdAt: new Date('2026-12-28T12:00Z') }];
    expect(tagFor({ createdAt: new Date('2027-01-03T12:00Z') }, p, yearRules, 'UTC')).toBe('Default');
    expect(tagFor({ createdAt: new Date('2027-01-04T12:00Z') }, p, yearRules, 'UTC')).toBe('Weekly');
  });
  it('computes expiry with calendar months clamped to the month end', () => {
    expect(expiryFor(new Date('2026-01-31T10:00Z'), 'Monthly', rules).toISOString()).toBe('2026-04-30T10:00:00.000Z');
    expect(expiryFor(new Date('2026-01-31T10:00Z'), 'Weekly', rules).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(expiryFor(new Date('2028-02-29T10:00Z'), 'Yearly', rules).toISOString()).toBe('2038-02-28T10:00:00.000Z');
    refused(() => expiryFor(new Date(), 'Weekly', parseRetentionRules([{ tag: 'Default', duration: 'P1D', priority: 1 }])), /no retention rule/);
  });
});

describe('pointsToExpire', () => {
  it('never expires the newest point of an instance, even when it is past its expiry', () => {
    const p = (instanceId: string, created: string, expires: string | null): { instanceId: string; createdAt: Date; expiresAt: Date | null; id: string } => ({
      id: `${instanceId}@${created}`,
      instanceId,
      createdAt: new Date(created),
      expiresAt: expires === null ? null : new Date(expires),
    });
    const points = [
      p('a', '2026-01-02Z', '2026-01-09Z'),
      p('a', '2026-01-01Z', '2026-01-08Z'),
      p('b', '2026-01-01Z', '2026-01-05Z'),
      p('c', '2026-01-01Z', null),
      p('c', '2026-01-02Z', '2026-01-03Z'),
    ];
    expect(pointsToExpire(points, new Date('2026-02-01Z')).map((x) => x.id)).toEqual(['a@2026-01-01Z']);
    expect(pointsToExpire(points, new Date('2026-01-07Z')).map((x) => x.id)).toEqual([]);
  });
});

describe('a simulated year of a daily policy', () => {
  interface Point { instanceId: string; createdAt: Date; expiresAt: Date; tag: RetentionTag; id: string }
  const zone = 'Europe/Berlin';
  const rules = parseRetentionRules(policyRules);
  const schedule = parseSchedule('R/2026-01-01T02:00:00/P1D', zone);
  const day = (d: Date): string => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(d);

  /** Runs the policy day by day up to `until`: at each occurrence, expire first, then take the backup. */
  function simulate(until: string): { alive: Point[]; expiredAt: Map<string, string[]> } {
    const history: Point[] = [];
    let alive: Point[] = [];
    const expiredAt = new Map<string, string[]>();
    for (const at of occurrencesBetween(schedule, new Date('2025-12-31T00:00Z'), new Date(until))) {
      const gone = pointsToExpire(alive, at);
      if (gone.length > 0) expiredAt.set(day(at), gone.map((g) => g.id));
      alive = alive.filter((p) => !gone.includes(p));
      const tag = tagFor({ createdAt: at }, history, rules, zone);
      const point: Point = { instanceId: 'i1', createdAt: at, expiresAt: expiryFor(at, tag, rules), tag, id: `${day(at)} ${tag}` };
      history.push(point);
      alive.push(point);
    }
    return { alive: alive.filter((p) => p.expiresAt.getTime() > new Date(until).getTime() || p === alive.at(-1)), expiredAt };
  }

  it('runs in milliseconds and keeps exactly the expected points on 2026-12-31', () => {
    const started = performance.now();
    const { alive, expiredAt } = simulate('2026-12-31T12:00Z');
    const elapsedMs = performance.now() - started;
    expect(alive.map((p) => p.id)).toEqual([
      '2026-01-01 Yearly',
      '2026-10-01 Monthly',
      '2026-11-01 Monthly',
      '2026-12-01 Monthly',
      '2026-12-07 Weekly',
      '2026-12-14 Weekly',
      '2026-12-21 Weekly',
      '2026-12-25 Default',
      '2026-12-26 Default',
      '2026-12-27 Default',
      '2026-12-28 Weekly',
      '2026-12-29 Default',
      '2026-12-30 Default',
      '2026-12-31 Default',
    ]);
    // At the 1 December run exactly a Monthly of 3 months and a Default of 7 days expire; the Weekly of
    // Monday 2 November expired at the 30 November run, 4 weeks after it was taken.
    expect(expiredAt.get('2026-12-01')).toEqual(['2026-09-01 Monthly', '2026-11-24 Default']);
    expect(expiredAt.get('2026-11-30')).toEqual(['2026-11-02 Weekly']) // Monday 23 November is Weekly, so no Default expires;
    const expiredTotal = [...expiredAt.values()].reduce((n, ids) => n + ids.length, 0);
    // 365 backups, 14 alive: every other one was expired by some run (Dec 24's Default by the Dec 31 run itself).
    expect(expiredTotal).toBe(365 - 14);
    expect(expiredAt.get('2026-12-31')).toEqual(['2026-12-24 Default']);
    expect(elapsedMs).toBeLessThan(2000);
  });

  it('keeps exactly the expected points on 2026-03-31, across the spring-forward day', () => {
    const { alive } = simulate('2026-03-31T12:00Z');
    expect(alive.map((p) => `${p.id} ${p.createdAt.toISOString().slice(11, 16)}`)).toEqual([
      '2026-01-01 Yearly 01:00',
      '2026-02-01 Monthly 01:00',
      '2026-03-01 Monthly 01:00',
      '2026-03-09 Weekly 01:00',
      '2026-03-16 Weekly 01:00',
      '2026-03-23 Weekly 01:00',
      '2026-03-25 Default 01:00',
      '2026-03-26 Default 01:00',
      '2026-03-27 Default 01:00',
      '2026-03-28 Default 01:00',
      '2026-03-29 Default 01:00', // 02:00 does not exist that day: 03:00 CEST
      '2026-03-30 Weekly 00:00',
      '2026-03-31 Default 00:00',
    ]);
  });
});
