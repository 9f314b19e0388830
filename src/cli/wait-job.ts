/** `--wait` for long operations: polls the job until it is final, drawing a progress line on a terminal
 *  (stderr, so stdout stays the result), and turns a failed job into its coded error (exit code by category). */
import { ApiProblemError, routes, type ApiClient, type Job } from '../api/contract/index.ts';
import type { ErrorCategory } from '../lib/index.ts';

const finalStates = new Set(['succeeded', 'failed', 'cancelled']);

function categoryOf(code: string): ErrorCategory {
  if (code.startsWith('UserError')) return 'user';
  if (code.startsWith('IntegrityError')) return 'integrity';
  if (code.startsWith('TransientError')) return 'transient';
  return 'internal';
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** One line describing a job's progress: state, bytes so far, current table. */
export function progressLine(job: Job, elapsedMs: number): string {
  const p = job.progress;
  const bytes = typeof p.bytes === 'number' ? p.bytes : typeof p.bytesDumped === 'number' ? p.bytesDumped : undefined;
  const parts = [`${job.type} ${job.id}`, job.state];
  if (bytes !== undefined) parts.push(human(bytes));
  const table = p.currentTable ?? p.table;
  if (typeof table === 'string') parts.push(table);
  parts.push(`${Math.round(elapsedMs / 1000)}s`);
  return parts.join('  ');
}

export interface WaitOptions {
  pollMs?: number;
  timeoutMs?: number;
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

export async function waitForJob(client: ApiClient, id: string, opts: WaitOptions = {}): Promise<Job> {
  const out = opts.out ?? process.stderr;
  const tty = out.isTTY === true;
  const started = Date.now();
  let lastState = '';
  const spinner = ['|', '/', '-', '\\'];
  let tick = 0;
  for (;;) {
    const job = await client.call(routes.jobShow, { params: { id } });
    if (tty) {
      out.write(`\r\x1b[2K${spinner[tick++ % spinner.length]} ${progressLine(job, Date.now() - started)}`);
    } else if (job.state !== lastState) {
      out.write(`${progressLine(job, Date.now() - started)}\n`);
    }
    lastState = job.state;
    if (finalStates.has(job.state)) {
      if (tty) out.write('\n');
      if (job.state === 'failed' && job.error) {
        throw new ApiProblemError({
          type: `https://pgvault.dev/errors#${job.error.code}`,
          title: 'Job failed',
          status: 0,
          detail: `job ${job.id} failed: ${job.error.message}`,
          code: job.error.code,
          category: categoryOf(job.error.code),
          ...(job.error.hint ? { hint: job.error.hint } : {}),
        });
      }
      return job;
    }
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) return job;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
}
