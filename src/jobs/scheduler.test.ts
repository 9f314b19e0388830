/** dueOccurrence(): the pure rule behind the scheduler — the latest occurrence at or before now across all of
 *  a policy's schedules, never one the instance predates or one already claimed. */
import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../lib/index.ts';
import { dueOccurrence } from './scheduler.ts';

const daily = parseSchedule('R/2026-01-01T02:00:00/P1D', 'Europe/Berlin');
const weekly = parseSchedule('R/2026-01-04T02:00:00/P1W', 'Europe/Berlin');
const created = new Date('2026-01-01T00:00:00Z');

describe('dueOccurrence', () => {
  it('merges schedules: an instant two schedules share is one occurrence', () => {
    // Sunday 2026-01-11 02:00 CET is both daily and weekly.
    const at = new Date('2026-01-11T01:30:00Z');
    expect(dueOccurrence([daily, weekly], at, { createdAt: created, lastClaimed: null })?.toISOString()).toBe('2026-01-11T01:00:00.000Z');
    expect(dueOccurrence([daily, weekly], at, { createdAt: created, lastClaimed: new Date('2026-01-11T01:00:00Z') })).toBeNull();
  });
  it('takes the latest missed occurrence across schedules, once', () => {
    const hourly = parseSchedule('R/2026-01-01T00:15:00/PT1H', 'UTC');
    const now = new Date('2026-01-20T10:20:00Z');
    expect(dueOccurrence([daily, hourly], now, { createdAt: created, lastClaimed: new Date('2026-01-12T01:00:00Z') })?.toISOString())
      .toBe('2026-01-20T10:15:00.000Z');
  });
  it('never returns an occurrence the instance predates or none at all before the schedule starts', () => {
    expect(dueOccurrence([daily], new Date('2026-01-05T12:00:00Z'), { createdAt: new Date('2026-01-05T11:00:00Z'), lastClaimed: null })).toBeNull();
    expect(dueOccurrence([weekly], new Date('2026-01-03T12:00:00Z'), { createdAt: created, lastClaimed: null })).toBeNull();
    expect(dueOccurrence([], new Date('2026-01-03T12:00:00Z'), { createdAt: created, lastClaimed: null })).toBeNull();
  });
});
