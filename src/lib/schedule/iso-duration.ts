/** ISO 8601 durations (PnYnMnWnDTnHnMnS) as used by schedules and retention rules: parsing with coded
 *  errors, and adding a multiple of one to a wall-clock reading. Calendar parts (Y, M, W, D) move the wall
 *  clock; clock parts (H, M, S) are exact elapsed time. Never accepts zero, negative or fractional parts. */
import { UserErrorInvalidInput } from '../errors.ts';
import { daysInMonth, localToWallMs, wallMsToLocal, type LocalDateTime } from './local-date-time.ts';

export interface IsoDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION_RE = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
/** No single part may exceed this: keeps all arithmetic inside exact integers and dates inside JS's range. */
const MAX_PART = 1_000_000;

/** Parses an ISO 8601 duration. `field` names the input in errors ("schedule period", "retention duration"). */
export function parseIsoDuration(text: string, field = 'duration'): IsoDuration {
  const hint = 'Write an ISO 8601 duration of whole, positive parts, e.g. "P1D", "P1W", "PT12H", "P1M", "P10Y" or "P1DT12H".';
  if (typeof text !== 'string') {
    throw new UserErrorInvalidInput(`${field} must be a string`, { hint });
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('-')) {
    throw new UserErrorInvalidInput(`${field} "${text}" is negative`, { hint, details: { [field]: text } });
  }
  const m = DURATION_RE.exec(trimmed);
  if (m === null) {
    throw new UserErrorInvalidInput(`${field} "${text}" is not an ISO 8601 duration`, { hint, details: { [field]: text } });
  }
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  const d: IsoDuration = { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
  if (Object.values(d).some((v) => v > MAX_PART)) {
    throw new UserErrorInvalidInput(`${field} "${text}" has a part larger than ${MAX_PART}`, { hint, details: { [field]: text } });
  }
  if (Object.values(d).every((v) => v === 0)) {
    throw new UserErrorInvalidInput(`${field} "${text}" is zero`, { hint, details: { [field]: text } });
  }
  return d;
}

export function formatIsoDuration(d: IsoDuration): string {
  const date = `${d.years ? `${d.years}Y` : ''}${d.months ? `${d.months}M` : ''}${d.weeks ? `${d.weeks}W` : ''}${d.days ? `${d.days}D` : ''}`;
  const time = `${d.hours ? `${d.hours}H` : ''}${d.minutes ? `${d.minutes}M` : ''}${d.seconds ? `${d.seconds}S` : ''}`;
  return `P${date}${time ? `T${time}` : ''}`;
}

/** The clock part in milliseconds (exact elapsed time). */
export function clockPartMs(d: IsoDuration): number {
  return ((d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000;
}

export function hasCalendarPart(d: IsoDuration): boolean {
  return d.years + d.months + d.weeks + d.days > 0;
}

/** Adds `times` × the calendar part of d to a wall-clock reading. Years and months first, clamping the day
 *  to the target month's length (Jan 31 + P1M = Feb 28/29); then weeks and days. Always computed from the
 *  given reading, so repeated months do not drift (Jan 31, Feb 28, Mar 31 …). */
export function addCalendarPart(local: LocalDateTime, d: IsoDuration, times = 1): LocalDateTime {
  const totalMonths = local.year * 12 + (local.month - 1) + (d.years * 12 + d.months) * times;
  const year = Math.floor(totalMonths / 12);
  const month = (totalMonths - year * 12) + 1;
  const day = Math.min(local.day, daysInMonth(year, month));
  const wall = localToWallMs({ ...local, year, month, day }) + (d.weeks * 7 + d.days) * times * 86_400_000;
  return wallMsToLocal(wall);
}

/** Average-length size of a duration in days (a year = 365.25 days, a month = 1/12 of that). Used for
 *  bounds such as "at most P10Y", where P10Y = P120M = 3652.5 days. */
export function approximateDays(d: IsoDuration): number {
  return (d.years * 12 + d.months) * (365.25 / 12) + d.weeks * 7 + d.days + clockPartMs(d) / 86_400_000;
}
