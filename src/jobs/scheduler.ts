/** The scheduler: turns due occurrences of protecting backup instances into backup jobs, exactly once per
 *  occurrence across every process sharing the catalog (occurrence row UNIQUE (instance, scheduled_for), job
 *  row and queue entry in one transaction); after downtime only the latest missed occurrence runs, once.
 *  Also missed-backup detection. Time comes from the injected Clock; it never sleeps for a schedule. */
import {
  asPgvaultError,
  latestOccurrenceAtOrBefore,
  nextOccurrence,
  parseSchedule,
  systemClock,
  type Clock,
  type PgvaultError,
  type Schedule,
} from '../lib/index.ts';
import { bindQueries, type BackupInstanceRow, type Catalog, type PolicyRow } from '../catalog/index.ts';
import { enqueueJobIn } from './enqueue-job.ts';
import { reconcileJobs } from './reconcile-jobs.ts';
import type { JobQueue } from './job-queue.ts';

export interface SchedulerOptions {
  catalog: Catalog;
  queue: JobQueue;
  clock?: Clock;
  /** Period of the tick loop started by start(). Default 30 s. */
  tickIntervalMs?: number;
  /** Called for errors the loop survives (one instance's bad policy, a passing catalog outage). */
  onError?: (err: PgvaultError, instanceId?: string) => void;
}

/** One occurrence this process turned into a job. */
export interface EnqueuedOccurrence {
  instanceId: string;
  scheduledFor: Date;
  jobId: string;
}

/** The parsed schedules of a policy. Throws UserErrorInvalidInput for a schedule that does not parse. */
export function policySchedules(policy: Pick<PolicyRow, 'schedules'>): Schedule[] {
  return policy.schedules.map((s) => parseSchedule(s.repeatingInterval, s.timeZone));
}

/** The occurrence an instance should run now, if any: the latest one at or before `now` across the
 *  policy's schedules, provided it is later than both the instance's creation and its last claimed
 *  occurrence. Pure; exported for tests and for the API's "next run" views. */
export function dueOccurrence(schedules: readonly Schedule[], now: Date, notAfter: { createdAt: Date; lastClaimed: Date | null }): Date | null {
  let due: Date | null = null;
  for (const s of schedules) {
    const at = latestOccurrenceAtOrBefore(s, now);
    if (at !== null && (due === null || at.getTime() > due.getTime())) due = at;
  }
  if (due === null) return null;
  if (due.getTime() <= notAfter.createdAt.getTime()) return null;
  if (notAfter.lastClaimed !== null && due.getTime() <= notAfter.lastClaimed.getTime()) return null;
  return due;
}

export class Scheduler {
  readonly #catalog: Catalog;
  readonly #queue: JobQueue;
  readonly #clock: Clock;
  readonly #tickMs: number;
  readonly #onError: (err: PgvaultError, instanceId?: string) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<unknown> | undefined;

  constructor(opts: SchedulerOptions) {
    this.#catalog = opts.catalog;
    this.#queue = opts.queue;
    this.#clock = opts.clock ?? systemClock;
    this.#tickMs = opts.tickIntervalMs ?? 30_000;
    this.#onError = opts.onError ?? reportToStderr;
  }

  /** Looks at every protecting instance once and enqueues what is due, then reconciles jobs the queue gave
   *  up on (reconcileJobs). Safe to run concurrently in any number of processes: each occurrence is enqueued
   *  by exactly one of them. */
  async tick(): Promise<EnqueuedOccurrence[]> {
    const out = await this.#enqueueDue();
    try {
      await reconcileJobs(this.#catalog, this.#queue, this.#clock);
    } catch (err) {
      this.#onError(asPgvaultError(err));
    }
    return out;
  }

  async #enqueueDue(): Promise<EnqueuedOccurrence[]> {
    const now = this.#clock.now();
    const instances = await this.#catalog.backupInstances.list({ state: 'protecting' });
    const policies = new Map<string, Schedule[] | Error>();
    const out: EnqueuedOccurrence[] = [];
    for (const instance of instances) {
      try {
        let schedules = policies.get(instance.policyId);
        if (schedules === undefined) {
          try {
            schedules = policySchedules(await this.#catalog.policies.get(instance.policyId));
          } catch (err) {
            schedules = err as Error;
          }
          policies.set(instance.policyId, schedules);
        }
        if (schedules instanceof Error) throw schedules;
        const lastClaimed = await this.#catalog.scheduleOccurrences.latest(instance.id);
        const due = dueOccurrence(schedules, now, { createdAt: instance.createdAt, lastClaimed });
        if (due === null) continue;
        const jobId = await this.#enqueueOccurrence(instance, due);
        if (jobId !== null) out.push({ instanceId: instance.id, scheduledFor: due, jobId });
      } catch (err) {
        // One instance's broken policy must not starve the others; the error is reported, not swallowed.
        this.#onError(asPgvaultError(err), instance.id);
      }
    }
    return out;
  }

  /** Claims the occurrence and enqueues its backup job in one transaction; null if another process won. */
  async #enqueueOccurrence(instance: BackupInstanceRow, scheduledFor: Date): Promise<string | null> {
    return this.#catalog.executor.transaction(async (tx) => {
      const q = bindQueries(tx, this.#clock);
      if (!(await q.scheduleOccurrences.claim(instance.id, scheduledFor))) return null;
      const job = await enqueueJobIn(tx, this.#queue, {
        type: 'backup',
        instanceId: instance.id,
        vaultId: instance.vaultId,
        params: { trigger: 'schedule', scheduledFor: scheduledFor.toISOString() },
        requestedBy: 'scheduler',
      }, this.#clock);
      await q.scheduleOccurrences.attachJob(instance.id, scheduledFor, job.id);
      return job.id;
    });
  }

  /** Ticks now and then every tickIntervalMs until stop(). */
  start(): void {
    if (this.#timer !== undefined) return;
    const run = (): void => {
      if (this.#running !== undefined) return;
      this.#running = this.tick()
        .catch((err: unknown) => this.#onError(asPgvaultError(err)))
        .finally(() => {
          this.#running = undefined;
        });
    };
    run();
    this.#timer = setInterval(run, this.#tickMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

/** An instance that has gone without a successful backup for longer than its schedule allows. */
export interface MissedBackup {
  instanceId: string;
  instanceName: string;
  /** When the last successful backup finished, or null if there never was one. */
  lastSuccessAt: Date | null;
  /** The first occurrence after the last success (or after the instance's creation) plus the grace. */
  overdueSince: Date;
}

/** Protecting instances whose schedule has come due without a successful backup since: the first occurrence
 *  after the last success (or, with none, after the instance's creation) is more than `graceMs` in the past.
 *  Most overdue first. The grace should cover how long a backup takes. Schedules that start later or have ended flag nothing.
 *  Throws UserErrorInvalidInput (through policySchedules) for a policy whose schedules do not parse. */
export async function findMissedBackups(catalog: Catalog, now: Date, opts: { graceMs: number }): Promise<MissedBackup[]> {
  const out: MissedBackup[] = [];
  const parsed = new Map<string, Schedule[]>();
  for (const instance of await catalog.backupInstances.list({ state: 'protecting' })) {
    let schedules = parsed.get(instance.policyId);
    if (schedules === undefined) {
      schedules = policySchedules(await catalog.policies.get(instance.policyId));
      parsed.set(instance.policyId, schedules);
    }
    const [last] = await catalog.jobs.list({ instanceId: instance.id, type: 'backup', state: 'succeeded', limit: 1 });
    const lastSuccessAt = last?.finishedAt ?? null;
    const base = lastSuccessAt ?? instance.createdAt;
    let firstDue: Date | null = null;
    for (const s of schedules) {
      const next = nextOccurrence(s, base);
      if (next !== null && (firstDue === null || next.getTime() < firstDue.getTime())) firstDue = next;
    }
    if (firstDue === null) continue;
    const overdueSince = new Date(firstDue.getTime() + opts.graceMs);
    if (now.getTime() > overdueSince.getTime()) {
      out.push({ instanceId: instance.id, instanceName: instance.name, lastSuccessAt, overdueSince });
    }
  }
  return out.sort((a, b) => a.overdueSince.getTime() - b.overdueSince.getTime());
}

/** Without an onError from the composition root, survivable errors still surface (redacted, with their code). */
function reportToStderr(err: PgvaultError, instanceId?: string): void {
  console.error(`pgvault scheduler${instanceId === undefined ? '' : ` (instance ${instanceId})`}: ${err.code}: ${err.message}`);
}
