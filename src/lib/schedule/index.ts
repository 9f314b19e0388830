/** Schedules: ISO 8601 repeating intervals in an IANA time zone and their DST-correct occurrences.
 *  Pure: no clock, no I/O. */
export * from './local-date-time.ts';
export * from './iso-duration.ts';
export * from './schedule.ts';
