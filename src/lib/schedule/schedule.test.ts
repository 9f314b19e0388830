/** Golden occurrences across DST in several zones, validation errors, and fast-check properties of the
 *  occurrence arithmetic (strictly increasing, none skipped, none duplicated, window-split invariant). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserErrorInvalidInput } from '../errors.ts';
import {
  latestOccurrenceAtOrBefore,
  nextOccurrence,
  occurrenceAt,
  occurrencesBetween,
  parseSchedule,
  toLocal,
} from './index.ts';

const iso = (ds: Date[]): string[] => ds.map((d) => d.toISOString().replace('.000', ''));
const between = (text: string, tz: string, from: string, to: string): string[] =>
  iso(occurrencesBetween(parseSchedule(text, tz), new Date(from), new Date(to)));

describe('golden occurrences', () => {
  it('Europe/Berlin, March: a daily 02:30 runs once at 03:30 CEST on the spring-forward day', () => {
    expect(between('R/2026-03-27T02:30:00/P1D', 'Europe/Berlin', '2026-03-26T00:00:00Z', '2026-03-31T00:30:00Z')).toEqual([
      '2026-03-27T01:30:00Z', // 02:30 CET
      '2026-03-28T01:30:00Z', // 02:30 CET
      '2026-03-29T01:30:00Z', // 02:30 does not exist: 03:30 CEST
      '2026-03-30T00:30:00Z', // 02:30 CEST
      '2026-03-31T00:30:00Z',
    ]);
    const local = toLocal(new Date('2026-03-29T01:30:00Z').getTime(), 'Europe/Berlin');
    expect([local.hour, local.minute]).toEqual([3, 30]);
  });

  it('Europe/Berlin, October: a daily 02:30 runs once (the first 02:30) on the fall-back day', () => {
    expect(between('R/2026-10-23T02:30/P1D', 'Europe/Berlin', '2026-10-22T00:00:00Z', '2026-10-27T23:00:00Z')).toEqual([
      '2026-10-23T00:30:00Z',
      '2026-10-24T00:30:00Z',
      '2026-10-25T00:30:00Z', // 02:30 CEST, the first of the two 02:30s; not again at 01:30Z
      '2026-10-26T01:30:00Z', // 02:30 CET
      '2026-10-27T01:30:00Z',
    ]);
  });

  it('Europe/Berlin: an hourly PT1H schedule runs every elapsed hour through the fall-back night (25 runs that day)', () => {
    const runs = between('R/2026-10-24T00:00/PT1H', 'Europe/Berlin', '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z');
    expect(runs).toHaveLength(25);
    expect(runs.slice(0, 4)).toEqual(['2026-10-24T23:00:00Z', '2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z', '2026-10-25T02:00:00Z']);
  });

  it('a weekly schedule keeps its local wall time across both DST changes', () => {
    const runs = occurrencesBetween(parseSchedule('R/2026-03-15T04:00:00/P1W', 'Europe/Berlin'), new Date('2026-03-01Z'), new Date('2026-11-10Z'));
    expect(runs).toHaveLength(35);
    for (const r of runs) {
      const l = toLocal(r.getTime(), 'Europe/Berlin');
      expect([l.hour, l.minute, new Date(Date.UTC(l.year, l.month - 1, l.day)).getUTCDay()]).toEqual([4, 0, 0]);
    }
    expect(iso(runs.slice(1, 3))).toEqual(['2026-03-22T03:00:00Z', '2026-03-29T02:00:00Z']);
  });

  it('P1D is calendar days, PT24H is 24 elapsed hours', () => {
    expect(between('R/2026-03-28T12:00/P1D', 'Europe/Berlin', '2026-03-28T00:00Z', '2026-03-30T23:00Z')).toEqual([
      '2026-03-28T11:00:00Z',
      '2026-03-29T10:00:00Z',
      '2026-03-30T10:00:00Z',
    ]);
    expect(between('R/2026-03-28T12:00/PT24H', 'Europe/Berlin', '2026-03-28T00:00Z', '2026-03-30T23:00Z')).toEqual([
      '2026-03-28T11:00:00Z',
      '2026-03-29T11:00:00Z', // 13:00 CEST: the wall time drifted by the lost hour
      '2026-03-30T11:00:00Z',
    ]);
  });

  it('America/New_York: spring forward (gap) and fall back (fold) in 2026', () => {
    expect(between('R/2026-03-01T02:30/P1D', 'America/New_York', '2026-03-06T12:00Z', '2026-03-09T12:00Z')).toEqual([
      '2026-03-07T07:30:00Z', // 02:30 EST
      '2026-03-08T07:30:00Z', // 02:30 does not exist: 03:30 EDT
      '2026-03-09T06:30:00Z', // 02:30 EDT
    ]);
    expect(between('R/2026-10-01T01:30/P1D', 'America/New_York', '2026-10-30T12:00Z', '2026-11-02T12:00Z')).toEqual([
      '2026-10-31T05:30:00Z',
      '2026-11-01T05:30:00Z', // the first 01:30 (EDT), once
      '2026-11-02T06:30:00Z', // 01:30 EST
    ]);
  });

  it('Asia/Kolkata (+05:30, no DST): monthly at midnight and month-end clamping without drift', () => {
    expect(between('R/2026-01-01T00:00/P1M', 'Asia/Kolkata', '2025-12-01Z', '2026-03-15Z')).toEqual([
      '2025-12-31T18:30:00Z',
      '2026-01-31T18:30:00Z',
      '2026-02-28T18:30:00Z',
    ]);
    expect(between('R/2026-01-31T10:00/P1M', 'Asia/Kolkata', '2026-01-01Z', '2026-06-01Z')).toEqual([
      '2026-01-31T04:30:00Z',
      '2026-02-28T04:30:00Z',
      '2026-03-31T04:30:00Z',
      '2026-04-30T04:30:00Z',
      '2026-05-31T04:30:00Z',
    ]);
  });

  it('bounded Rn: n occurrences in total, then none', () => {
    const s = parseSchedule('R3/2026-01-01T00:00/P1D', 'UTC');
    expect(iso(occurrencesBetween(s, new Date('2025-01-01Z'), new Date('2027-01-01Z')))).toEqual([
      '2026-01-01T00:00:00Z',
      '2026-01-02T00:00:00Z',
      '2026-01-03T00:00:00Z',
    ]);
    expect(nextOccurrence(s, new Date('2026-01-03T00:00Z'))).toBeNull();
    expect(nextOccurrence(s, new Date('2025-06-01Z'))?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(latestOccurrenceAtOrBefore(s, new Date('2030-01-01Z'))?.toISOString()).toBe('2026-01-03T00:00:00.000Z');
    expect(latestOccurrenceAtOrBefore(s, new Date('2025-12-31Z'))).toBeNull();
  });

  it('canonicalises the text', () => {
    expect(parseSchedule(' R/2026-01-04T02:00/P7D ', 'Europe/Berlin').text).toBe('R/2026-01-04T02:00:00/P7D');
    expect(parseSchedule('R12/2026-01-04T02:00:05/P1DT12H', 'UTC').text).toBe('R12/2026-01-04T02:00:05/P1DT12H');
  });
});

describe('validation', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['R/2026-01-04T02:00:00/P0D', 'UTC', /is zero/],
    ['R/2026-01-04T02:00:00/PT0S', 'UTC', /is zero/],
    ['R/2026-01-04T02:00:00/-P1D', 'UTC', /negative/],
    ['R/2026-01-04T02:00:00/P1.5D', 'UTC', /not an ISO 8601 duration/],
    ['R/2026-01-04T02:00:00/PT30S', 'UTC', /shorter than one minute/],
    ['R0/2026-01-04T02:00:00/P1D', 'UTC', /repetitions/],
    ['R1000001/2026-01-04T02:00:00/P1D', 'UTC', /repetitions/],
    ['R/2026-01-04T02:00:00Z/P1D', 'UTC', /offset/],
    ['R/2026-01-04T02:00:00+01:00/P1D', 'UTC', /offset/],
    ['R/2026-02-30T02:00:00/P1D', 'UTC', /not a valid date-time/],
    ['R/2026-01-04/P1D', 'UTC', /not a local date-time/],
    ['2026-01-04T02:00:00/P1D', 'UTC', /repeating interval/],
    ['X/2026-01-04T02:00:00/P1D', 'UTC', /must begin with "R"/],
    ['R/2026-01-04T02:00:00/P1D', 'Mars/Olympus', /not a known IANA time zone/],
  ];
  it.each(cases)('%s in %s is refused with a coded error and a hint', (text, tz, message) => {
    let caught: unknown;
    try {
      parseSchedule(text, tz);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UserErrorInvalidInput);
    const err = caught as UserErrorInvalidInput;
    expect(err.code).toBe('UserErrorInvalidInput');
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });
});

describe('properties', () => {
  const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'UTC', 'America/Santiago'];
  const periods = ['P1D', 'P1W', 'PT1H', 'PT24H', 'P1M', 'P2D', 'PT90M', 'P1DT6H', 'P1Y', 'PT17M'];
  const scheduleArb = fc
    .record({
      zone: fc.constantFrom(...zones),
      period: fc.constantFrom(...periods),
      startDay: fc.integer({ min: 0, max: 3650 }),
      hour: fc.integer({ min: 0, max: 23 }),
      minute: fc.constantFrom(0, 15, 30, 45),
      reps: fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }),
    })
    .map(({ zone, period, startDay, hour, minute, reps }) => {
      const d = new Date(Date.UTC(2020, 0, 1) + startDay * 86_400_000);
      const pad = (n: number): string => String(n).padStart(2, '0');
      const start = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(hour)}:${pad(minute)}:00`;
      return parseSchedule(`R${reps ?? ''}/${start}/${period}`, zone);
    });
  const windowArb = fc.record({ fromDay: fc.integer({ min: -30, max: 4000 }), lengthHours: fc.integer({ min: 1, max: 24 * 20 }) });

  it('occurrences are strictly increasing, inside the window, and each is the next of its predecessor', () => {
    fc.assert(
      fc.property(scheduleArb, windowArb, (s, w) => {
        const from = new Date(Date.UTC(2020, 0, 1) + w.fromDay * 86_400_000);
        const to = new Date(from.getTime() + w.lengthHours * 3_600_000);
        const occ = occurrencesBetween(s, from, to);
        let prev = from;
        for (const o of occ) {
          expect(o.getTime()).toBeGreaterThan(prev.getTime());
          expect(nextOccurrence(s, prev)?.getTime()).toBe(o.getTime());
          prev = o;
        }
        const after = nextOccurrence(s, prev);
        if (after !== null) expect(after.getTime()).toBeGreaterThan(to.getTime());
        if (occ.length > 0) expect(latestOccurrenceAtOrBefore(s, to)?.getTime()).toBe(occ.at(-1)!.getTime());
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with a naive scan of every occurrence index from the start', () => {
    fc.assert(
      fc.property(scheduleArb, windowArb, (s, w) => {
        const from = new Date(Date.UTC(2020, 0, 1) + w.fromDay * 86_400_000);
        const to = new Date(from.getTime() + w.lengthHours * 3_600_000);
        const naive: number[] = [];
        const last = s.repetitions === null ? Number.POSITIVE_INFINITY : s.repetitions - 1;
        for (let k = 0; k <= last && k < 20_000; k++) {
          const at = occurrenceAt(s, k).getTime();
          if (at > to.getTime()) break;
          if (at > from.getTime()) naive.push(at);
          if (k === 19_999) return; // too dense to scan naively from the start; other properties cover it
        }
        expect(occurrencesBetween(s, from, to).map((d) => d.getTime())).toEqual(naive);
      }),
      { numRuns: 200 },
    );
  });

  it('splitting a window anywhere neither loses nor repeats an occurrence', () => {
    fc.assert(
      fc.property(scheduleArb, windowArb, fc.double({ min: 0, max: 1, noNaN: true }), (s, w, cut) => {
        const from = new Date(Date.UTC(2020, 0, 1) + w.fromDay * 86_400_000);
        const to = new Date(from.getTime() + w.lengthHours * 3_600_000);
        const mid = new Date(from.getTime() + Math.floor((to.getTime() - from.getTime()) * cut));
        const whole = occurrencesBetween(s, from, to).map((d) => d.getTime());
        const parts = [...occurrencesBetween(s, from, mid), ...occurrencesBetween(s, mid, to)].map((d) => d.getTime());
        expect(parts).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('every occurrence index maps to a distinct instant, and calendar periods keep the local wall time unless it fell into a gap', () => {
    fc.assert(
      fc.property(scheduleArb, fc.integer({ min: 0, max: 400 }), (s, k) => {
        const a = occurrenceAt(s, k).getTime();
        const b = occurrenceAt(s, k + 1).getTime();
        expect(b).toBeGreaterThan(a);
        if (s.period.hours + s.period.minutes + s.period.seconds === 0) {
          const l = toLocal(b, s.timeZone);
          const wall = l.hour * 60 + l.minute;
          const want = s.start.hour * 60 + s.start.minute;
          // Equal, or later by the length of a DST gap (at most 1 hour; Lord Howe's is 30 minutes).
          expect(wall - want).toBeGreaterThanOrEqual(0);
          expect(wall - want).toBeLessThanOrEqual(60);
        }
      }),
      { numRuns: 300 },
    );
  });
});
