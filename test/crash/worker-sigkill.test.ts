/** Crash test of the worker loop on one PostgreSQL 15 catalog with real processes: worker A is SIGKILLed and
 *  worker C is SIGSTOPped, each in the middle of a backup job; worker D takes both jobs over once their
 *  leases lapse and completes each exactly once. The dead attempt's late commit is refused, and C, resumed
 *  afterwards, tries to commit its stale attempt and is refused by the fence. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openCatalog, TransientErrorJobAttemptSuperseded, type Catalog } from '../../src/catalog/index.ts';
import { enqueueJob, startJobQueue, type JobQueue } from '../../src/jobs/index.ts';
import { startCluster, type PgCluster } from '../support/index.ts';

const child = fileURLToPath(new URL('./worker-crash-child.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Line { pid: number; event: string; [k: string]: unknown }

class WorkerProcess {
  readonly lines: Line[] = [];
  readonly proc: ChildProcess;
  #waiters: Array<() => void> = [];
  constructor(url: string, env: Record<string, string>) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: repoRoot,
      env: { ...process.env, PGVAULT_TEST_CATALOG_URL: url, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Line);
      } catch {
        return;
      }
      for (const w of this.#waiters.splice(0)) w();
    });
  }
  async waitFor(pred: (l: Line) => boolean, timeoutMs: number, what: string): Promise<Line> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(pred);
      if (found) return found;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  kill(signal: NodeJS.Signals): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }
}

let cluster: PgCluster | undefined;
let catalog: Catalog | undefined;
let queue: JobQueue | undefined;
const procs: WorkerProcess[] = [];

beforeAll(async () => {
  cluster = await startCluster({ major: 15 });
  await cluster.createDatabase('crash');
  catalog = await openCatalog({ kind: 'postgres', url: cluster.url('crash') });
  queue = await startJobQueue({ connection: { kind: 'catalog', catalog }, leaseSeconds: 10, retryDelaySeconds: 1, supervise: false });
});

afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  }
  await queue?.stop().catch(() => undefined);
  await catalog?.close().catch(() => undefined);
  await cluster?.stop();
});

it('a SIGKILLed and a frozen worker lose their jobs to another process, which completes each once; stale commits are refused', async () => {
  const cat = catalog!;
  const url = cluster!.url('crash');
  const vault = await cat.vaults.create({ name: 'v', storageUrl: 'file:///srv/v', keyReference: 'env:K' });
  const policy = await cat.policies.create({
    vaultId: vault.id, name: 'p', schedules: [{ repeatingInterval: 'R/2026-01-01T00:00:00/P1D', timeZone: 'UTC' }],
    retentionRules: [{ tag: 'Default', duration: 'P7D', priority: 0 }],
  });
  const jobs = [];
  for (const name of ['db1', 'db2']) {
    const instance = await cat.backupInstances.create({
      name, policyId: policy.id, credentialReference: 'env:PW',
      datasource: { kind: 'database', serverUrl: 'postgresql://u@h:5432/postgres', databaseName: name },
    });
    jobs.push(await enqueueJob(cat, queue!, { type: 'backup', instanceId: instance.id, vaultId: vault.id, requestedBy: 'test' }));
  }

  // A and C each take one job and are caught mid-job; neither supervises, so neither holds maintenance locks.
  const a = new WorkerProcess(url, { HANDLER_MS: '60000', SUPERVISE: '0' });
  procs.push(a);
  const startedA = await a.waitFor((l) => l.event === 'started', 30_000, 'A to start a job');
  const c = new WorkerProcess(url, { HANDLER_MS: '2500', SUPERVISE: '0' });
  procs.push(c);
  const startedC = await c.waitFor((l) => l.event === 'started', 30_000, 'C to start a job');
  expect(new Set([startedA.jobId, startedC.jobId])).toEqual(new Set(jobs.map((j) => j.id)));
  a.kill('SIGKILL');
  c.kill('SIGSTOP');

  // D supervises: after the 10 s leases lapse, pg-boss retries both jobs and D completes them.
  const d = new WorkerProcess(url, { HANDLER_MS: '300' });
  procs.push(d);
  for (const job of jobs) {
    await d.waitFor((l) => l.event === 'outcome' && l.jobId === job.id, 45_000, `D to complete ${job.id}`);
  }
  expect(d.lines.filter((l) => l.event === 'outcome').map((l) => l.outcome)).toEqual(['succeeded', 'succeeded']);

  // C wakes up, finishes its stale attempt and tries to commit: the fence refuses it.
  c.kill('SIGCONT');
  const refused = await c.waitFor((l) => l.event === 'commit-refused', 20_000, 'C to try its late commit');
  expect(refused.code).toBe('TransientErrorJobAttemptSuperseded');
  const outcomeC = await c.waitFor((l) => l.event === 'outcome', 20_000, 'C to end its attempt');
  expect(outcomeC.outcome).toBe('lease-lost');
  expect(c.lines.some((l) => l.event === 'committed')).toBe(false);

  // The dead attempt of A commits late (as a process that hung instead of dying would): refused.
  await expect(cat.jobs.succeed(startedA.jobId as string, startedA.attemptId as string, { by: 'dead attempt' }))
    .rejects.toBeInstanceOf(TransientErrorJobAttemptSuperseded);
  await expect(cat.transaction(async (q) => {
    await q.jobs.assertAttempt(startedA.jobId as string, startedA.attemptId as string);
  })).rejects.toBeInstanceOf(TransientErrorJobAttemptSuperseded);

  for (const job of jobs) {
    const row = await cat.jobs.get(job.id);
    expect(row).toMatchObject({ state: 'succeeded', attempts: 2, figures: { by: d.proc.pid } });
    expect(await queue!.state(row.queueJobId!)).toBe('completed');
    const log = (await cat.jobs.logs(job.id)).map((l) => l.message);
    expect(log.filter((m) => m.startsWith('committed by attempt'))).toEqual([`committed by attempt ${row.attemptId}`]);
    expect(log.filter((m) => /^attempt \d \(att_/.test(m))).toHaveLength(2);
  }
  d.kill('SIGTERM');
  c.kill('SIGTERM');
}, 90_000);
