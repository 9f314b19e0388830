/** Retention rules of a policy: which tag a new recovery point takes, when it expires, and which points may
 *  be expired now. Pure: no clock (time is an argument), no I/O, never deletes anything itself.
 *  The HIGHER priority number wins (Yearly 30 beats Monthly 20 beats Weekly 10 beats Default 0), as the
 *  catalog and API document it; on equal priorities the rarer tag wins (Yearly, Monthly, Weekly, Default).
 *  Tag names are persisted on recovery points: never rename or reuse one. */
import { UserErrorInvalidInput } from '../errors.ts';
import { approximateDays, assertTimeZone, formatIsoDuration, parseIsoDuration, toLocal, type IsoDuration } from '../schedule/index.ts';

export const RETENTION_TAGS = ['Default', 'Weekly', 'Monthly', 'Yearly'] as const;
export type RetentionTag = (typeof RETENTION_TAGS)[number];

/** A rule as the user writes it. */
export interface RetentionRuleInput {
  tag: RetentionTag;
  /** ISO 8601 duration, positive, at most P10Y (P120M, or 3653 days: ten years with three leap days). */
  duration: string;
  /** Higher wins; ties go to the rarer tag. */
  priority: number;
}

/** A validated rule. */
export interface RetentionRule {
  readonly tag: RetentionTag;
  readonly duration: IsoDuration;
  /** The canonical text of the duration. */
  readonly durationText: string;
  readonly priority: number;
}

/** Validated rules, sorted winner first. Build with parseRetentionRules(). */
export type RetentionRules = readonly RetentionRule[];

/** Ten years with three leap days, on average month lengths (P10Y = P120M = 3652.5 days by that measure);
 *  the catalog's validation uses the same bound. */
export const MAX_RETENTION_DAYS = 3653;

/** Validates a policy's rules: Default present, each tag at most once, known tags, positive durations of at
 *  most P10Y, integer priorities, and no rule that Default would always outrank. */
export function parseRetentionRules(input: readonly RetentionRuleInput[]): RetentionRules {
  if (!Array.isArray(input) || input.length === 0) {
    throw new UserErrorInvalidInput('retention rules are missing', {
      hint: 'Give at least a Default rule, e.g. [{ "tag": "Default", "duration": "P30D", "priority": 0 }].',
    });
  }
  const seenTags = new Set<string>();
  const rules: RetentionRule[] = [];
  for (const r of input) {
    if (!RETENTION_TAGS.includes(r?.tag)) {
      throw new UserErrorInvalidInput(`retention tag "${String(r?.tag)}" is unknown`, {
        hint: `Use one of ${RETENTION_TAGS.join(', ')}.`,
        details: { tag: String(r?.tag) },
      });
    }
    if (seenTags.has(r.tag)) {
      throw new UserErrorInvalidInput(`retention tag "${r.tag}" appears twice`, { hint: 'Give each tag one rule.', details: { tag: r.tag } });
    }
    seenTags.add(r.tag);
    if (!Number.isInteger(r.priority) || r.priority < 0 || r.priority > 1_000_000) {
      throw new UserErrorInvalidInput(`priority of retention tag "${r.tag}" must be a whole number from 0 to 1000000`, {
        hint: 'Higher numbers win: e.g. Default 0, Weekly 10, Monthly 20, Yearly 30.',
        details: { tag: r.tag },
      });
    }
    const duration = parseIsoDuration(r.duration, 'retention duration');
    if (approximateDays(duration) > MAX_RETENTION_DAYS) {
      throw new UserErrorInvalidInput(`retention duration "${r.duration}" of tag "${r.tag}" is longer than ten years`, {
        hint: 'Keep recovery points at most P10Y (also written P120M or P3653D).',
        details: { tag: r.tag, duration: r.duration },
      });
    }
    rules.push({ tag: r.tag, duration, durationText: formatIsoDuration(duration), priority: r.priority });
  }
  const def = rules.find((r) => r.tag === 'Default');
  if (def === undefined) {
    throw new UserErrorInvalidInput('retention rules lack a Default rule', {
      hint: 'Add { "tag": "Default", "duration": "P30D", "priority": 0 }: every recovery point needs a retention.',
    });
  }
  const outranked = rules.find((r) => r.tag !== 'Default' && r.priority < def.priority);
  if (outranked !== undefined) {
    throw new UserErrorInvalidInput(`retention tag "${outranked.tag}" can never apply: Default outranks it`, {
      hint: `Give Default the lowest priority number (higher numbers win); e.g. Default ${outranked.priority}, ${outranked.tag} ${def.priority}.`,
      details: { tag: outranked.tag },
    });
  }
  return rules.sort(byRank);
}

const rarity: Record<RetentionTag, number> = { Default: 0, Weekly: 1, Monthly: 2, Yearly: 3 };

/** Winner first: higher priority, then the rarer tag. */
function byRank(a: RetentionRule, b: RetentionRule): number {
  return b.priority - a.priority || rarity[b.tag] - rarity[a.tag];
}

/** What tagging needs to know of a recovery point. */
export interface PointTime {
  createdAt: Date;
}

interface PeriodKeys {
  week: string;
  month: string;
  year: string;
}
/** Tagging compares a point with all earlier ones; Intl is the slow part, so keys are memoised (bounded). */
const keyCache = new Map<string, PeriodKeys>();

/** Calendar keys of an instant in a zone: ISO week (year-Www), month and year. */
function periodKeys(at: Date, timeZone: string): PeriodKeys {
  const cacheKey = `${timeZone} ${at.getTime()}`;
  const hit = keyCache.get(cacheKey);
  if (hit !== undefined) return hit;
  if (keyCache.size >= 50_000) keyCache.clear();
  const keys = computePeriodKeys(at, timeZone);
  keyCache.set(cacheKey, keys);
  return keys;
}

function computePeriodKeys(at: Date, timeZone: string): PeriodKeys {
  const l = toLocal(at.getTime(), timeZone);
  // ISO 8601 week: the week with the year's first Thursday is week 1; weeks start on Monday.
  const dayMs = Date.UTC(l.year, l.month - 1, l.day);
  const weekday = (new Date(dayMs).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const thursday = new Date(dayMs + (3 - weekday) * 86_400_000);
  const isoYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / (7 * 86_400_000)) + 1;
  return { week: `${isoYear}-W${week}`, month: `${l.year}-${l.month}`, year: `${l.year}` };
}

/** The tag a new recovery point takes. Weekly = the first point of its ISO week, Monthly = first of its month,
 *  Yearly = first of its year, all in the policy's time zone; "first" means no point of the same instance was
 *  created earlier in that period (previousPointsOfInstance may hold any points; later ones are ignored).
 *  The matching rule with the highest priority number wins (ties: the rarer tag); Default always matches. */
export function tagFor(point: PointTime, previousPointsOfInstance: readonly PointTime[], rules: RetentionRules, timeZone: string): RetentionTag {
  assertTimeZone(timeZone);
  const keys = periodKeys(point.createdAt, timeZone);
  const earlier = previousPointsOfInstance
    .filter((p) => p.createdAt.getTime() < point.createdAt.getTime())
    .map((p) => periodKeys(p.createdAt, timeZone));
  const matches: Record<RetentionTag, boolean> = {
    Default: true,
    Weekly: !earlier.some((k) => k.week === keys.week),
    Monthly: !earlier.some((k) => k.month === keys.month),
    Yearly: !earlier.some((k) => k.year === keys.year),
  };
  for (const rule of [...rules].sort(byRank)) {
    if (matches[rule.tag]) return rule.tag;
  }
  return 'Default';
}

/** When a point with this tag expires: createdAt plus the tag's duration, calendar parts in UTC (P1M from
 *  Jan 31 is Feb 28/29), clock parts as elapsed time. Throws UserErrorInvalidInput for a tag without a rule. */
export function expiryFor(createdAt: Date, tag: RetentionTag, rules: RetentionRules): Date {
  const rule = rules.find((r) => r.tag === tag);
  if (rule === undefined) {
    throw new UserErrorInvalidInput(`the policy has no retention rule for tag "${tag}"`, {
      hint: `Use one of the policy's tags: ${rules.map((r) => r.tag).join(', ')}.`,
      details: { tag },
    });
  }
  const d = rule.duration;
  const t = new Date(createdAt.getTime());
  const day = t.getUTCDate();
  const months = t.getUTCFullYear() * 12 + t.getUTCMonth() + d.years * 12 + d.months;
  const year = Math.floor(months / 12);
  const month = months - year * 12;
  const lastDay = new Date(Date.UTC(2000, 0, 1));
  lastDay.setUTCFullYear(year, month + 1, 0);
  t.setUTCFullYear(year, month, Math.min(day, lastDay.getUTCDate()));
  return new Date(t.getTime() + ((d.weeks * 7 + d.days) * 24 * 3600 + (d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000);
}

/** What expiry selection needs to know of an available (not yet deleted) recovery point. */
export interface ExpirablePoint {
  instanceId: string;
  createdAt: Date;
  /** null: kept until deleted by hand. */
  expiresAt: Date | null;
}

/** The available points whose expiry is at or before `now`, except the newest point of each instance, which
 *  is never expired automatically (an instance always keeps its latest backup; it can be deleted by hand).
 *  Returns the given objects, oldest first. */
export function pointsToExpire<P extends ExpirablePoint>(points: readonly P[], now: Date): P[] {
  const newest = new Map<string, P>();
  for (const p of points) {
    const cur = newest.get(p.instanceId);
    if (cur === undefined || p.createdAt.getTime() > cur.createdAt.getTime()) newest.set(p.instanceId, p);
  }
  return points
    .filter((p) => p.expiresAt !== null && p.expiresAt.getTime() <= now.getTime() && newest.get(p.instanceId) !== p)
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}
