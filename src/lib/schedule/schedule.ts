/** Schedules as ISO 8601 repeating intervals `R[n]/<start>/<period>` with an IANA time zone, and their
 *  DST-correct occurrences (the rules are on Schedule below). Pure arithmetic over instants: knows nothing of
 *  jobs, catalogs or the current time. */
import { UserErrorInvalidInput } from '../errors.ts';
import {
  addCalendarPart,
  clockPartMs,
  formatIsoDuration,
  hasCalendarPart,
  parseIsoDuration,
  approximateDays,
  type IsoDuration,
} from './iso-duration.ts';
import { assertTimeZone, localToInstant, type LocalDateTime } from './local-date-time.ts';

export const MAX_REPETITIONS = 1_000_000;

/** A validated schedule. Build it with parseSchedule(); its fields are read-only facts.
 *  The rules (their single written source):
 *  - `<start>` is a local date-time without offset (`2026-01-04T02:00:00` or `2026-01-04T02:00`), read in
 *    the schedule's time zone. Occurrence k (k = 0, 1, …) is start + k × period.
 *  - Calendar parts of the period (Y, M, W, D) move the wall clock: P1D keeps 02:30 local every day and P1W
 *    keeps the weekday and local time across DST. Clock parts (H, M, S) are elapsed time: PT24H is exactly
 *    24 hours and drifts by an hour on the local clock across a DST change. A mixed period (P1DT12H) moves
 *    the wall clock by its calendar part, then adds its clock part as elapsed time. Months clamp to the
 *    month's last day without drifting (Jan 31, Feb 28, Mar 31). Periods are at least one minute.
 *  - A local time that does not exist (spring forward: 02:30 on 2026-03-29 in Europe/Berlin) runs once,
 *    moved forward by the length of the gap (03:30 local). A local time that exists twice (fall back:
 *    02:30 on 2026-10-25) runs once, at the first of the two (02:30 CEST).
 *  - `R` alone repeats forever; `Rn` means n occurrences in total (1 ≤ n ≤ 1,000,000); `R0` is refused. */
export interface Schedule {
  /** The canonical text, e.g. `R/2026-01-04T02:00:00/P1W`. */
  readonly text: string;
  readonly timeZone: string;
  /** Number of occurrences in total, or null for an endless schedule. */
  readonly repetitions: number | null;
  readonly start: LocalDateTime;
  readonly period: IsoDuration;
}

const SCHEDULE_HINT =
  'Write an ISO 8601 repeating interval "R[n]/<local start>/<period>", e.g. "R/2026-01-04T02:00:00/P1D", with the ' +
  'start as a local time without offset and an IANA time zone given separately.';

const START_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** Parses and validates `R[n]/<start>/<period>` for an IANA time zone. Throws UserErrorInvalidInput with a hint. */
export function parseSchedule(text: string, timeZone: string): Schedule {
  assertTimeZone(timeZone);
  if (typeof text !== 'string') throw new UserErrorInvalidInput('schedule must be a string', { hint: SCHEDULE_HINT });
  const parts = text.trim().split('/');
  if (parts.length !== 3) {
    throw new UserErrorInvalidInput(`schedule "${text}" is not a repeating interval R[n]/<start>/<period>`, {
      hint: SCHEDULE_HINT,
      details: { schedule: text },
    });
  }
  const [rep, startText, periodText] = parts as [string, string, string];
  const repMatch = /^R(\d*)$/.exec(rep);
  if (repMatch === null) {
    throw new UserErrorInvalidInput(`schedule "${text}" must begin with "R" or "R<n>"`, { hint: SCHEDULE_HINT, details: { schedule: text } });
  }
  let repetitions: number | null = null;
  if (repMatch[1] !== '') {
    repetitions = Number(repMatch[1]);
    if (!(repetitions >= 1 && repetitions <= MAX_REPETITIONS)) {
      throw new UserErrorInvalidInput(`schedule "${text}" has ${repMatch[1]} repetitions; allowed are 1 to ${MAX_REPETITIONS}`, {
        hint: 'Use "R/…" for a schedule without end, or "R<n>/…" with 1 ≤ n ≤ 1000000.',
        details: { schedule: text },
      });
    }
  }
  const start = parseLocalStart(startText, text);
  const period = parseIsoDuration(periodText, 'schedule period');
  if (approximateDays(period) < 1 / 1440) {
    throw new UserErrorInvalidInput(`schedule period "${periodText}" is shorter than one minute`, {
      hint: 'Backups run at most once a minute; use a period of PT1M or longer.',
      details: { schedule: text },
    });
  }
  const canonical = `R${repetitions ?? ''}/${formatLocal(start)}/${formatIsoDuration(period)}`;
  return { text: canonical, timeZone, repetitions, start, period };
}

function parseLocalStart(startText: string, whole: string): LocalDateTime {
  if (/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(startText) && startText.includes('T') && !START_RE.test(startText)) {
    throw new UserErrorInvalidInput(`schedule start "${startText}" carries an offset`, {
      hint: 'Write the start as local time without "Z" or an offset (e.g. "2026-01-04T02:00:00") and give the time zone separately.',
      details: { schedule: whole },
    });
  }
  const m = START_RE.exec(startText);
  if (m === null) {
    throw new UserErrorInvalidInput(`schedule start "${startText}" is not a local date-time YYYY-MM-DDTHH:MM[:SS]`, {
      hint: SCHEDULE_HINT,
      details: { schedule: whole },
    });
  }
  const l: LocalDateTime = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: m[6] === undefined ? 0 : Number(m[6]),
  };
  const dim = new Date(Date.UTC(2000, 0, 1));
  dim.setUTCFullYear(l.year, l.month, 0);
  if (l.year < 1970 || l.month < 1 || l.month > 12 || l.day < 1 || l.day > dim.getUTCDate() || l.hour > 23 || l.minute > 59 || l.second > 59) {
    throw new UserErrorInvalidInput(`schedule start "${startText}" is not a valid date-time`, {
      hint: 'Check the month, day and time; years before 1970 are not accepted.',
      details: { schedule: whole },
    });
  }
  return l;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function formatLocal(l: LocalDateTime): string {
  return `${pad(l.year, 4)}-${pad(l.month)}-${pad(l.day)}T${pad(l.hour)}:${pad(l.minute)}:${pad(l.second)}`;
}

/** The instant of occurrence k (0-based), ignoring the repetition bound. Strictly increasing in k. */
export function occurrenceAt(schedule: Schedule, k: number): Date {
  const local = hasCalendarPart(schedule.period) ? addCalendarPart(schedule.start, schedule.period, k) : schedule.start;
  return new Date(localToInstant(local, schedule.timeZone) + k * clockPartMs(schedule.period));
}

function lastIndex(schedule: Schedule): number {
  return schedule.repetitions === null ? Number.POSITIVE_INFINITY : schedule.repetitions - 1;
}

/** The smallest k whose occurrence is strictly after `after` (may exceed the repetition bound). */
function firstIndexAfter(schedule: Schedule, afterMs: number): number {
  const first = occurrenceAt(schedule, 0).getTime();
  if (first > afterMs) return 0;
  // An estimate from the average period length, then exact steps; the error of the estimate is a few periods at most.
  const approxMs = approximateDays(schedule.period) * 86_400_000;
  let k = Math.max(0, Math.floor((afterMs - first) / approxMs) - 1);
  while (k > 0 && occurrenceAt(schedule, k).getTime() > afterMs) k = Math.max(0, k - 2);
  while (occurrenceAt(schedule, k).getTime() <= afterMs) k += 1;
  return k;
}

/** The first occurrence strictly after `after`, or null when a bounded schedule has no more. */
export function nextOccurrence(schedule: Schedule, after: Date): Date | null {
  const k = firstIndexAfter(schedule, after.getTime());
  return k > lastIndex(schedule) ? null : occurrenceAt(schedule, k);
}

/** The latest occurrence at or before `at`, or null when none has happened yet. */
export function latestOccurrenceAtOrBefore(schedule: Schedule, at: Date): Date | null {
  const k = Math.min(firstIndexAfter(schedule, at.getTime()) - 1, lastIndex(schedule));
  return k < 0 ? null : occurrenceAt(schedule, k);
}

/** Every occurrence in (fromExclusive, toInclusive], in increasing order, none skipped or repeated.
 *  Refuses windows holding more than `limit` occurrences (default 100,000) to keep callers bounded. */
export function occurrencesBetween(schedule: Schedule, fromExclusive: Date, toInclusive: Date, limit = 100_000): Date[] {
  const out: Date[] = [];
  const toMs = toInclusive.getTime();
  const last = lastIndex(schedule);
  for (let k = firstIndexAfter(schedule, fromExclusive.getTime()); k <= last; k++) {
    const at = occurrenceAt(schedule, k);
    if (at.getTime() > toMs) break;
    if (out.length >= limit) {
      throw new UserErrorInvalidInput(`more than ${limit} occurrences between ${fromExclusive.toISOString()} and ${toInclusive.toISOString()}`, {
        hint: 'Ask for a shorter window.',
      });
    }
    out.push(at);
  }
  return out;
}

/** The nominal length of one period in ms (average month/year lengths): for grace windows and estimates. */
export function nominalPeriodMs(schedule: Schedule): number {
  return approximateDays(schedule.period) * 86_400_000;
}
