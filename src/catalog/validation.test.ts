/** Boundary validation of the catalog: names, URLs, references, durations, schedules; and the locked-vault
 *  rule that a retention duration may never become shorter whatever the calendar does. Pure, no database. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserErrorInvalidInput } from '../lib/index.ts';
import { durationNotShorter, validateRetentionRules, validateSchedules } from './queries/policies.ts';
import {
  validateCredentialReference, validateName, validateRepeatingInterval, validateRetentionDuration, validateServerUrl, validateStorageUrl,
} from './validation.ts';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserErrorInvalidInput);
    expect((e as UserErrorInvalidInput).hint).toBeTruthy();
    return (e as UserErrorInvalidInput).details.field as string;
  }
  return undefined;
}

describe('catalog validation', () => {
  it('accepts safe names and refuses everything that could escape a path, a quote or a line', () => {
    for (const ok of ['a', 'prod-db', 'billing_2026', 'eu.west', 'A'.repeat(63)]) expect(validateName('name', ok)).toBe(ok);
    for (const bad of ['', '.hidden', '-x', 'a/b', '../x', 'a..b', 'a b', 'it\'s', 'a"b', 'a\0b', 'a\nb', 'ä', 'A'.repeat(64)]) {
      expect(fieldOf(() => validateName('name', bad)), JSON.stringify(bad)).toBe('name');
    }
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => {
      try {
        validateName('name', s);
      } catch {
        return true;
      }
      return /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(s) && !s.includes('..');
    }));
  });

  it('keeps credentials out of URLs and references', () => {
    expect(fieldOf(() => validateServerUrl('u', 'postgresql://u:pw@h/db'))).toBe('u');
    expect(fieldOf(() => validateServerUrl('u', 'postgresql://u@h/db?password=pw'))).toBe('u');
    expect(validateServerUrl('u', 'postgresql://u@h:5433/db?sslmode=require')).toBe('postgresql://u@h:5433/db?sslmode=require');
    expect(validateServerUrl('u', 'postgresql:///db?host=/var/run/postgresql')).toBeTruthy();
    expect(fieldOf(() => validateStorageUrl('s', 's3://key:secret@bucket/p'))).toBe('s');
    expect(fieldOf(() => validateStorageUrl('s', 'https://a.blob.core.windows.net/c?sv=1&sig=x'))).toBe('s');
    expect(fieldOf(() => validateStorageUrl('s', 'file:///srv/../etc'))).toBe('s');
    expect(fieldOf(() => validateCredentialReference('r', 'plain-password'))).toBe('r');
    expect(validateCredentialReference('r', 'azure-keyvault:https://v.vault.azure.net/secrets/s')).toBeTruthy();
  });

  it('bounds retention durations to P1D..P10Y and schedules to ISO 8601 repeating intervals of at least an hour', () => {
    for (const ok of ['P1D', 'P7D', 'P4W', 'P12M', 'P10Y', 'P9Y11M', 'P120M', 'P3652D']) expect(validateRetentionDuration('d', ok)).toBe(ok);
    for (const bad of ['', 'P', 'P0D', 'P11Y', 'P121M', 'P3660D', 'PT1H', '1Y', 'P1.5Y', 'p1d']) expect(fieldOf(() => validateRetentionDuration('d', bad))).toBe('d');
    for (const ok of ['R/2026-01-04T02:00:00/P1W', 'R/2026-01-01T01:30/P1D', 'R5/2026-01-01T00:00/PT6H', 'R/2026-03-29T02:30:00/PT1H']) {
      expect(validateRepeatingInterval('s', ok)).toBe(ok);
    }
    for (const bad of ['R/2026-01-04T02:00:00Z/P1D', 'R/2026-13-01T00:00/P1D', 'R/2026-01-01T00:00/PT30M', '2026-01-01/P1D', 'R/2026-01-01T00:00/', 'R0/2026-01-01T00:00/P1D']) {
      expect(fieldOf(() => validateRepeatingInterval('s', bad)), bad).toBe('s');
    }
  });

  it('checks the shape of schedules and retention rules', () => {
    expect(validateSchedules([{ repeatingInterval: 'R/2026-01-04T02:00:00/P1W', timeZone: 'Europe/Berlin' }])).toHaveLength(1);
    expect(fieldOf(() => validateSchedules(Array.from({ length: 17 }, () => ({ repeatingInterval: 'R/2026-01-04T02:00:00/P1W', timeZone: 'UTC' }))))).toBe('schedules');
    expect(validateRetentionRules([{ tag: 'Default', duration: 'P30D', priority: 0 }, { tag: 'Yearly', duration: 'P10Y', priority: 5 }])).toHaveLength(2);
    expect(fieldOf(() => validateRetentionRules([{ tag: 'Default', duration: 'P30D', priority: -1 }]))).toBe('retentionRules[0].priority');
  });

  it('compares durations conservatively for the locked-vault rule', () => {
    expect(durationNotShorter('P12M', 'P1Y')).toBe(true);
    expect(durationNotShorter('P1Y', 'P12M')).toBe(true);
    expect(durationNotShorter('P31D', 'P1M')).toBe(true);
    expect(durationNotShorter('P4W', 'P1M')).toBe(false);
    expect(durationNotShorter('P1M', 'P31D')).toBe(false);
    expect(durationNotShorter('P29D', 'P30D')).toBe(false);
    expect(durationNotShorter('P2Y', 'P1Y11M')).toBe(true);
    // Never claims "not shorter" when some calendar makes the new one shorter.
    const dur = fc.tuple(fc.nat({ max: 30 }), fc.nat({ max: 400 })).map(([m, d]) => ({ m, d, text: `P${m}M${d}D` }));
    fc.assert(fc.property(dur, dur, (n, p) => {
      if (n.m === 0 && n.d === 0) return true;
      if (!durationNotShorter(n.text.replace(/^P0M/, 'P'), p.text.replace(/^P0M/, 'P'))) return true;
      return n.m * 28 + n.d >= p.m * 31 + p.d || (n.m >= p.m && n.d >= p.d);
    }));
  });
});
