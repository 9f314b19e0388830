/** Queries on policies: schedules (ISO 8601 repeating intervals with an IANA time zone) and retention rules
 *  (Default/Weekly/Monthly/Yearly, durations up to P10Y, priorities) of one vault. Validates their shape; the
 *  meaning (occurrences, tag matching) lives in src/jobs. In a locked vault no rule may be removed or shortened. */
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { UserErrorVaultLocked } from '../catalog-errors.ts';
import { isId, newId } from '../new-id.ts';
import {
  validateEnum, validateInteger, validateName, validateRepeatingInterval, validateRetentionDuration, validateTimeZone,
} from '../validation.ts';
import { json, notFound, toDate, type QueryContext } from './query-context.ts';

export interface Schedule {
  /** ISO 8601 repeating interval with a local start time, e.g. R/2026-01-04T02:00:00/P1W. */
  repeatingInterval: string;
  /** IANA time zone the start time is read in, e.g. Europe/Berlin. */
  timeZone: string;
}

export const retentionTags = ['Default', 'Weekly', 'Monthly', 'Yearly'] as const;
export type RetentionTag = (typeof retentionTags)[number];

export interface RetentionRule {
  tag: RetentionTag;
  /** ISO 8601 duration from P1D to P10Y. */
  duration: string;
  /** Higher wins when a recovery point matches several tags; Default is the fallback. */
  priority: number;
}

export interface PolicyRow {
  id: string;
  vaultId: string;
  name: string;
  schedules: Schedule[];
  retentionRules: RetentionRule[];
  createdAt: Date;
  updatedAt: Date;
}

export interface NewPolicy {
  vaultId: string;
  name: string;
  schedules: Schedule[];
  retentionRules: RetentionRule[];
}

export interface PolicyPatch {
  schedules?: Schedule[];
  retentionRules?: RetentionRule[];
}

/** get() throws UserErrorNotFound. Names are unique within a vault. */
export interface PolicyQueries {
  create(input: NewPolicy): Promise<PolicyRow>;
  get(id: string): Promise<PolicyRow>;
  findByName(vaultId: string, name: string): Promise<PolicyRow | undefined>;
  list(filter?: { vaultId?: string }): Promise<PolicyRow[]>;
  /** Throws UserErrorVaultLocked when the vault is locked and a retention rule would be removed or shortened. */
  update(id: string, patch: PolicyPatch): Promise<PolicyRow>;
  /** Refused (UserErrorConflict) while backup instances use the policy. */
  delete(id: string): Promise<void>;
}

const columns = 'id, vault_id, name, schedules, retention_rules, created_at, updated_at';

function toRow(r: Record<string, unknown>): PolicyRow {
  return {
    id: r.id as string,
    vaultId: r.vault_id as string,
    name: r.name as string,
    schedules: r.schedules as Schedule[],
    retentionRules: r.retention_rules as RetentionRule[],
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

export function validateSchedules(value: unknown): Schedule[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 16) {
    throw new UserErrorInvalidInput('schedules: give 1 to 16 schedules', { hint: 'For example [{ "repeatingInterval": "R/2026-01-04T02:00:00/P1D", "timeZone": "UTC" }].', details: { field: 'schedules' } });
  }
  return value.map((s: unknown, i) => {
    const o = (s ?? {}) as Record<string, unknown>;
    return {
      repeatingInterval: validateRepeatingInterval(`schedules[${i}].repeatingInterval`, o.repeatingInterval),
      timeZone: validateTimeZone(`schedules[${i}].timeZone`, o.timeZone),
    };
  });
}

export function validateRetentionRules(value: unknown): RetentionRule[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new UserErrorInvalidInput('retentionRules: at least the Default rule is required', { hint: 'For example [{ "tag": "Default", "duration": "P30D", "priority": 0 }].', details: { field: 'retentionRules' } });
  }
  const rules = value.map((r: unknown, i) => {
    const o = (r ?? {}) as Record<string, unknown>;
    return {
      tag: validateEnum(`retentionRules[${i}].tag`, o.tag, retentionTags),
      duration: validateRetentionDuration(`retentionRules[${i}].duration`, o.duration),
      priority: validateInteger(`retentionRules[${i}].priority`, o.priority ?? 0, 0, 1000),
    };
  });
  const tags = rules.map((r) => r.tag);
  if (new Set(tags).size !== tags.length) {
    throw new UserErrorInvalidInput('retentionRules: each tag may appear once', { hint: 'Merge the rules that share a tag.', details: { field: 'retentionRules' } });
  }
  if (!tags.includes('Default')) {
    throw new UserErrorInvalidInput('retentionRules: the Default rule is required', { hint: 'Add { "tag": "Default", "duration": "P30D", "priority": 0 }.', details: { field: 'retentionRules' } });
  }
  return rules;
}

function durationParts(duration: string): { months: number; days: number } {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/.exec(duration);
  if (!m) return { months: 0, days: 0 };
  return { months: Number(m[1] ?? 0) * 12 + Number(m[2] ?? 0), days: Number(m[3] ?? 0) * 7 + Number(m[4] ?? 0) };
}

/** True when `next` keeps every point at least as long as `prev` whatever the calendar does: no fewer months
 *  and days, or a shortest possible length (28-day months) no shorter than the longest possible old one
 *  (31-day months). P12M vs P1Y: equal; P4W vs P1M: shorter (a month may have 31 days). */
export function durationNotShorter(next: string, prev: string): boolean {
  const n = durationParts(next);
  const p = durationParts(prev);
  if (n.months >= p.months && n.days >= p.days) return true;
  return n.months * 28 + n.days >= p.months * 31 + p.days;
}

export function policyQueries(ctx: QueryContext): PolicyQueries {
  const get = async (id: string): Promise<PolicyRow> => {
    const rows = await ctx.exec.query(`SELECT ${columns} FROM policies WHERE id = $1`, [id]);
    if (!rows[0]) throw notFound('policy', id);
    return toRow(rows[0]);
  };
  return {
    async create(input) {
      if (typeof input.vaultId !== 'string' || !isId('vault', input.vaultId)) {
        throw new UserErrorInvalidInput('vaultId: not a vault id', { hint: 'Give the id of an existing vault (vault_…).', details: { field: 'vaultId' } });
      }
      const name = validateName('name', input.name);
      const schedules = validateSchedules(input.schedules);
      const retentionRules = validateRetentionRules(input.retentionRules);
      const vault = await ctx.exec.query('SELECT id FROM vaults WHERE id = $1', [input.vaultId]);
      if (!vault[0]) throw notFound('vault', input.vaultId);
      const now = ctx.clock.now();
      const rows = await ctx.exec.query(
        `INSERT INTO policies (${columns}) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $6) RETURNING ${columns}`,
        [newId('policy', ctx.clock), input.vaultId, name, json(schedules), json(retentionRules), now]);
      return toRow(rows[0]!);
    },
    get,
    async findByName(vaultId, name) {
      const rows = await ctx.exec.query(`SELECT ${columns} FROM policies WHERE vault_id = $1 AND name = $2`, [vaultId, name]);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
    async list(filter = {}) {
      const rows = filter.vaultId === undefined
        ? await ctx.exec.query(`SELECT ${columns} FROM policies ORDER BY name, id`)
        : await ctx.exec.query(`SELECT ${columns} FROM policies WHERE vault_id = $1 ORDER BY name, id`, [filter.vaultId]);
      return rows.map(toRow);
    },
    async update(id, patch) {
      return ctx.exec.transaction(async (tx) => {
        const rows = await tx.query(
          `SELECT p.${columns.split(', ').join(', p.')}, v.immutability, v.name AS vault_name
           FROM policies p JOIN vaults v ON v.id = p.vault_id WHERE p.id = $1 FOR UPDATE`, [id]);
        if (!rows[0]) throw notFound('policy', id);
        const cur = toRow(rows[0]);
        const schedules = patch.schedules === undefined ? cur.schedules : validateSchedules(patch.schedules);
        const retentionRules = patch.retentionRules === undefined ? cur.retentionRules : validateRetentionRules(patch.retentionRules);
        if (rows[0].immutability === 'locked') {
          for (const old of cur.retentionRules) {
            const now = retentionRules.find((r) => r.tag === old.tag);
            if (!now || !durationNotShorter(now.duration, old.duration)) {
              throw new UserErrorVaultLocked(
                `vault "${String(rows[0].vault_name)}" is locked: the ${old.tag} retention of policy "${cur.name}" cannot be ${now ? `shortened from ${old.duration} to ${now.duration}` : 'removed'}`,
                { hint: 'A locked vault refuses any shortening of retention; keep or lengthen each rule.', details: { policy: cur.name, tag: old.tag } });
            }
          }
        }
        const out = await tx.query(
          `UPDATE policies SET schedules = $2::jsonb, retention_rules = $3::jsonb, updated_at = $4 WHERE id = $1 RETURNING ${columns}`,
          [id, json(schedules), json(retentionRules), ctx.clock.now()]);
        return toRow(out[0]!);
      });
    },
    async delete(id) {
      const rows = await ctx.exec.query('DELETE FROM policies WHERE id = $1 RETURNING id', [id]);
      if (!rows[0]) throw notFound('policy', id);
    },
  };
}
