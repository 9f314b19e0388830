/** Wall-clock date-times without an offset and their conversion to instants in an IANA time zone, using only
 *  Intl (no Temporal, no time-zone database of our own). Gaps resolve forward by the gap's length and folds
 *  resolve to the earlier instant (Temporal's "compatible" rule). Never reads the process's own time zone. */
import { UserErrorInvalidInput } from '../errors.ts';

/** A wall-clock reading: what a clock on the wall in some zone shows. month 1–12. */
export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
        era: 'short',
      });
    } catch {
      throw new UserErrorInvalidInput(`time zone "${timeZone}" is not a known IANA time zone`, {
        hint: 'Use an IANA zone name such as "Europe/Berlin", "America/New_York" or "UTC".',
        details: { timeZone },
      });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws UserErrorInvalidInput unless timeZone is an IANA zone this Node knows. Returns the name unchanged. */
export function assertTimeZone(timeZone: string): string {
  if (typeof timeZone !== 'string' || timeZone.trim() === '') {
    throw new UserErrorInvalidInput('time zone is missing', {
      hint: 'Give an IANA zone name such as "Europe/Berlin" or "UTC".',
    });
  }
  formatterFor(timeZone);
  return timeZone;
}

/** The wall-clock reading of the zone at an instant. */
export function toLocal(instantMs: number, timeZone: string): LocalDateTime {
  const parts = formatterFor(timeZone).formatToParts(new Date(instantMs));
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value);
  const era = parts.find((p) => p.type === 'era')?.value;
  const y = get('year');
  return {
    year: era === 'BC' || era === 'B' ? 1 - y : y,
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** The wall-clock reading encoded as if it were UTC: a total order on local readings, handy for arithmetic. */
export function localToWallMs(l: LocalDateTime): number {
  const d = new Date(0);
  d.setUTCFullYear(l.year, l.month - 1, l.day);
  d.setUTCHours(l.hour, l.minute, l.second, 0);
  return d.getTime();
}

export function wallMsToLocal(ms: number): LocalDateTime {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** Offset of the zone at an instant, in ms (local minus UTC), at second precision. */
export function offsetMsAt(instantMs: number, timeZone: string): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return localToWallMs(toLocal(whole, timeZone)) - whole;
}

/** The instant a wall-clock reading denotes in a zone.
 *  - An ordinary reading has one instant.
 *  - A reading inside a gap (spring forward, e.g. 02:30 in Europe/Berlin on the last Sunday of March) does
 *    not exist: it is moved forward by the length of the gap (02:30 → 03:30 local), using the offset in
 *    force before the gap.
 *  - A reading inside a fold (fall back, 02:30 happens twice) resolves to the earlier of the two instants. */
export function localToInstant(local: LocalDateTime, timeZone: string): number {
  const wall = localToWallMs(local);
  const before = offsetMsAt(wall - DAY_MS, timeZone);
  const after = offsetMsAt(wall + DAY_MS, timeZone);
  const candidates = [...new Set([before, after])]
    .map((offset) => wall - offset)
    .filter((instant) => offsetMsAt(instant, timeZone) === wall - instant)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0]!;
  return wall - before;
}

/** Days in a month of the proleptic Gregorian calendar (month 1–12). */
export function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}
