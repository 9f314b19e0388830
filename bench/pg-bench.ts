/** The PostgreSQL benchmark of issue 4, side by side in one run, medians of N repetitions:
 *  backup vs `pg_dump -Fc > file` and vs `pg_dump -Fc -Z0 > /dev/null`; a second backup after ~2 % churn;
 *  restore (serial and -j2, no spool) vs pg_restore of a local -Fc file (serial and -j2); peak RSS of each pgvault
 *  pipeline (own process); the CPU seconds of each restore (server and client side); a 600 MB bytea value backed up
 *  and restored with memory bounded.
 *  Usage: npx tsx bench/pg-bench.ts [--scale 100] [--reps 3] [--bytea-mb 600] [--out bench/results/pg-<date>.md] */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixture, churn, startCluster, type PgCluster } from '../test/support/index.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '100' },
    reps: { type: 'string', default: '3' },
    'bytea-mb': { type: 'string', default: '600' },
    out: { type: 'string' },
  },
});
const scale = Number(values.scale);
const reps = Number(values.reps);
const byteaMb = Number(values['bytea-mb']);
const outFile = values.out ?? join('bench', 'results', `pg-${new Date().toISOString().slice(0, 10)}.md`);
const root = new URL('..', import.meta.url).pathname;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (b: number): string => (b / 1e6).toFixed(1);
const sec = (ms: number): string => (ms / 1000).toFixed(2);
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

/** Wall time of a command; stdout to a file (or /dev/null). The password goes through PGPASSWORD in the env. */
/** Flushes the cluster's dirty buffers (untimed), so that a timed step does not pay for the one before it. */
async function checkpoint(c: PgCluster): Promise<void> {
  const client = await c.connect();
  try {
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

/** CPU time (s) used by the server's processes (every descendant of the postmaster; those already running count by
 *  their growth) and by the process trees of `roots`, sampled from /proc every 50 ms while a step runs: what a
 *  restore costs the machine, whatever it does in parallel. A process that lives under 50 ms may be missed. */
class CpuMeter {
  readonly #seen = new Map<string, { ticks: number; comm: string; server: boolean }>();
  readonly #base = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  readonly roots: number[] = [];

  constructor(readonly postmaster: number) {
    this.#sample();
    for (const [k, x] of this.#seen) this.#base.set(k, x.ticks);
    this.#timer = setInterval(() => this.#sample(), 50);
  }

  #sample(): void {
    const all = new Map<number, { ppid: number; ticks: number; comm: string; start: string }>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const t = readFileSync(`/proc/${d}/stat`, 'utf8');
        const r = t.lastIndexOf(')');
        const f = t.slice(r + 2).split(' ');
        all.set(Number(d), { comm: t.slice(t.indexOf('(') + 1, r), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), start: f[19]! });
      } catch {
        // gone
      }
    }
    const owner = new Map<number, boolean>([[this.postmaster, true], ...this.roots.map((p) => [p, false] as [number, boolean])]);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [pid, st] of all) {
        if (owner.has(pid) || !owner.has(st.ppid)) continue;
        owner.set(pid, owner.get(st.ppid)!);
        changed = true;
      }
    }
    for (const [pid, server] of owner) {
      const st = all.get(pid);
      if (!st) continue;
      const k = `${pid}:${st.start}`;
      this.#seen.set(k, { ticks: Math.max(this.#seen.get(k)?.ticks ?? 0, st.ticks), comm: st.comm, server });
    }
  }

  /** Stops sampling: CPU seconds of the server, and of the roots' trees by command name. */
  stop(): { server: number; tools: Record<string, number> } {
    clearInterval(this.#timer);
    this.#sample();
    let server = 0;
    const tools: Record<string, number> = {};
    for (const [k, x] of this.#seen) {
      const d = (x.ticks - (this.#base.get(k) ?? 0)) / 100;
      if (x.server) server += d;
      else tools[x.comm] = (tools[x.comm] ?? 0) + d;
    }
    return { server, tools };
  }
}

function timeCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdoutTo = '/dev/null', meter?: CpuMeter): Promise<number> {
  const fd = openSync(stdoutTo, 'w');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', fd, 'pipe'], env });
    if (p.pid) meter?.roots.push(p.pid);
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      closeSync(fd);
      if (code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

interface Cpu {
  server: number;
  client: number;
}

interface ChildResult {
  ms: number;
  wallMs: number;
  maxRssKiB: number;
  [k: string]: unknown;
}

function child(job: Record<string, unknown>, env: NodeJS.ProcessEnv, meter?: CpuMeter): Promise<ChildResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'pg-bench-child.ts'), JSON.stringify(job)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (p.pid) meter?.roots.push(p.pid);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${JSON.stringify(job)} exited ${code}: ${err.slice(-3000)}`));
      resolve({ ...(JSON.parse(out.trim().split('\n').pop()!) as ChildResult), wallMs: performance.now() - t0 });
    });
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pgvault-pg-bench-'));
  let cluster: PgCluster | undefined;
  const lines: string[] = [];
  try {
    log(`starting PostgreSQL 15, building the fixture at scale ${scale}`);
    cluster = await startCluster({ major: 15, settings: { max_wal_size: '4GB', checkpoint_timeout: '30min' } });
    const c = cluster;
    const postmaster = Number(readFileSync(join(c.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const t0 = performance.now();
    const info = await buildFixture(c, 'bench', { scale });
    const buildMs = performance.now() - t0;
    log(`fixture: ${mb(info.sizeBytes)} MB in ${sec(buildMs)} s`);
    const pgEnv: NodeJS.ProcessEnv = { ...process.env, PGPASSWORD: c.password };
    const conn = ['-h', c.host, '-p', String(c.port), '-U', c.superuser];
    const passphrase = randomBytes(18).toString('base64');
    const childEnv = (db: string): NodeJS.ProcessEnv => ({ ...process.env, BENCH_PG_URL: c.url(db), BENCH_VAULT_PASSPHRASE: passphrase });

    const r = {
      dumpFc: [] as number[], dumpZ0: [] as number[], backup1: [] as number[], backup2: [] as number[],
      restoreFc: [] as number[], restoreFcJ2: [] as number[], restore: [] as number[], restoreJ2: [] as number[],
      rssBackup: [] as number[], rssRestore: [] as number[], rssRestoreJ2: [] as number[],
      /** CPU seconds per timed restore: the server's processes, and the restoring side (pg_restore; or the pgvault
       *  operation's own CPU, all threads, without Node start-up, plus its pg_restore children). */
      cpu: { fc: [] as Cpu[], fcJ2: [] as Cpu[], pgv: [] as Cpu[], pgvJ2: [] as Cpu[] },
      archiveBytes: 0, fcBytes: 0, rssBaseline: 0, newBytes2: [] as number[], stored1: [] as number[], churned: [] as number[],
    };
    const fcFile = join(work, 'bench.dump');
    for (let rep = 0; rep < reps; rep++) {
      if (rep === 0) {
        const base = await child({ op: 'noop', vaultDir: join(work, 'vault-noop'), create: true, database: 'bench' }, childEnv('bench'));
        r.rssBaseline = base.maxRssKiB;
      }
      log(`rep ${rep + 1}/${reps}: pg_dump -Fc > file`);
      r.dumpFc.push(await timeCmd('pg_dump', [...conn, '-Fc', 'bench'], pgEnv, fcFile));
      r.fcBytes = statSync(fcFile).size;
      log(`rep ${rep + 1}: pg_dump -Fc -Z0 > /dev/null`);
      r.dumpZ0.push(await timeCmd('pg_dump', [...conn, '-Fc', '-Z0', 'bench'], pgEnv));
      const vaultDir = join(work, `vault-${rep}`);
      log(`rep ${rep + 1}: pgvault backup (first, fresh vault)`);
      const b1 = await child({ op: 'backup', vaultDir, create: true, database: 'bench' }, childEnv('bench'));
      r.backup1.push(b1.ms);
      r.rssBackup.push(b1.maxRssKiB);
      r.archiveBytes = b1.bytesDumped as number;
      r.stored1.push(b1.bytesStored as number);
      log(`rep ${rep + 1}: churn ~2 %`);
      const ch = await churn(c, 'bench', { fraction: 0.02, pattern: 'recent', seed: 100 + rep });
      r.churned.push(ch.updated + ch.deleted + ch.inserted);
      log(`rep ${rep + 1}: pgvault backup (after churn)`);
      const b2 = await child({ op: 'backup', vaultDir, database: 'bench' }, childEnv('bench'));
      r.backup2.push(b2.ms);
      r.rssBackup.push(b2.maxRssKiB);
      r.newBytes2.push(b2.bytesNew as number);

      // Each restore writes ~1 GB that the checkpointer flushes afterwards: the step after it would pay for that
      // flush. A CHECKPOINT (untimed) before every timed restore starts each from a clean cluster, and the order of
      // pg_restore and pgvault alternates between repetitions.
      const restoreFc = async (jobs: number): Promise<void> => {
        log(`rep ${rep + 1}: pg_restore${jobs > 1 ? ` -j${jobs}` : ''} of the local -Fc file`);
        await c.createDatabase('r_fc');
        await checkpoint(c);
        const meter = new CpuMeter(postmaster);
        (jobs > 1 ? r.restoreFcJ2 : r.restoreFc).push(await timeCmd('pg_restore', [...conn, ...(jobs > 1 ? ['-j', String(jobs)] : []), '-d', 'r_fc', fcFile], pgEnv, '/dev/null', meter));
        const used = meter.stop();
        (jobs > 1 ? r.cpu.fcJ2 : r.cpu.fc).push({ server: used.server, client: Object.values(used.tools).reduce((a, b) => a + b, 0) });
        await c.dropDatabase('r_fc');
      };
      const restorePgv = async (jobs: number): Promise<void> => {
        log(`rep ${rep + 1}: pgvault restore${jobs > 1 ? ` -j${jobs} (no spool)` : ', serial'}`);
        await checkpoint(c);
        const meter = new CpuMeter(postmaster);
        const rr = await child({ op: 'restore', vaultDir, database: 'bench', manifestId: b2.manifestId, newDatabase: 'r_pgv', jobs }, childEnv('postgres'), meter);
        const used = meter.stop();
        (jobs > 1 ? r.cpu.pgvJ2 : r.cpu.pgv).push({ server: used.server, client: (rr.cpuMs as number) / 1000 + (rr.toolsCpuMs as number) / 1000 });
        (jobs > 1 ? r.restoreJ2 : r.restore).push(rr.ms);
        (jobs > 1 ? r.rssRestoreJ2 : r.rssRestore).push(rr.maxRssKiB);
        await c.dropDatabase('r_pgv');
      };
      for (const jobs of [1, 2]) {
        if (rep % 2 === 0) {
          await restoreFc(jobs);
          await restorePgv(jobs);
        } else {
          await restorePgv(jobs);
          await restoreFc(jobs);
        }
      }
      rmSync(vaultDir, { recursive: true, force: true });
    }

    const m = (xs: number[]): number => median(xs);
    /** The ratio of the medians, and the median of the per-repetition ratios (each repetition ran both side by
     *  side, so its ratio is paired: it holds still when the machine's speed drifts between repetitions). */
    const ratio = (a: number[], b: number[]): string => `${(m(a) / m(b)).toFixed(2)} (paired ${m(a.map((x, i) => x / b[i]!)).toFixed(2)})`;
    lines.push(`# PostgreSQL benchmark (${new Date().toISOString()})`, '');
    lines.push(`Machine: ${process.platform}, 2 cores shared with other sessions; load average at start ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}.`);
    lines.push(`Fixture: scale ${scale}, ${mb(info.sizeBytes)} MB on disk (pg_database_size), built in ${sec(buildMs)} s; archive (-Fc -Z0) ${mb(r.archiveBytes)} MB; local -Fc file ${mb(r.fcBytes)} MB.`);
    lines.push(`PostgreSQL 15 server and pg_dump/pg_restore 15; medians of ${reps} repetitions, each repetition running every variant side by side.`);
    lines.push('pgvault times are the operation inside its own process (without Node start-up); pg_dump/pg_restore times are process wall time.');
    lines.push('Every timed restore starts after an untimed CHECKPOINT; pg_restore and pgvault alternate which goes first between repetitions.', '');
    lines.push('Ratio: of the medians, and in parentheses the median of the per-repetition ratios (paired).', '');
    lines.push('| measure | median s | runs s | ratio | target |', '| --- | ---: | --- | ---: | --- |');
    const row = (name: string, xs: number[], rat = '', target = ''): void => {
      lines.push(`| ${name} | ${sec(m(xs))} | ${xs.map(sec).join(', ')} | ${rat} | ${target} |`);
    };
    row('pg_dump -Fc > file', r.dumpFc);
    row('pg_dump -Fc -Z0 > /dev/null', r.dumpZ0, ratio(r.dumpZ0, r.dumpFc));
    row('pgvault backup, first (fresh vault)', r.backup1, ratio(r.backup1, r.dumpFc), '≤ 0.75× pg_dump -Fc');
    row('pgvault backup after ~2 % churn', r.backup2, `${ratio(r.backup2, r.dumpFc)}; ${(m(r.backup2) / m(r.dumpZ0)).toFixed(2)}× Z0`, '≤ 0.65× pg_dump -Fc');
    row('pg_restore local -Fc, serial', r.restoreFc);
    row('pgvault restore, serial', r.restore, ratio(r.restore, r.restoreFc), '≤ 1.05× pg_restore serial');
    row('pg_restore local -Fc, -j2', r.restoreFcJ2, ratio(r.restoreFcJ2, r.restoreFc));
    row('pgvault restore -j2 (no spool)', r.restoreJ2, ratio(r.restoreJ2, r.restoreFc), '≤ 0.6× pg_restore serial');
    lines.push('');
    const cpuLine = (name: string, xs: Cpu[]): string => {
      const tot = xs.map((x) => x.server + x.client);
      return `${name} ${m(tot).toFixed(1)} (server ${m(xs.map((x) => x.server)).toFixed(1)} + client ${m(xs.map((x) => x.client)).toFixed(1)})`;
    };
    lines.push(
      `CPU seconds per restore, medians (the server's processes, sampled from /proc; the client: pg_restore, or the pgvault operation's threads without Node start-up plus its pg_restore children): ${[
        cpuLine('pg_restore serial', r.cpu.fc),
        cpuLine('pgvault serial', r.cpu.pgv),
        cpuLine('pg_restore -j2', r.cpu.fcJ2),
        cpuLine('pgvault -j2', r.cpu.pgvJ2),
      ].join('; ')}. On 2 cores a restore takes at least half its CPU seconds.`,
    );
    lines.push(`Peak RSS of the whole Node process (runtime, tsx loader, vault open and client discovery alone: ${(r.rssBaseline / 1024).toFixed(0)} MiB): backup ${r.rssBackup.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB; restore serial ${r.rssRestore.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB; restore -j2 ${r.rssRestoreJ2.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB (target ≤ 128 MiB for the pipelines: peak minus that baseline).`);
    lines.push(`Churn between the two backups: pattern "recent" (updates, deletes and inserts on the newest rows of app.events and app.orders), rows touched: ${r.churned.join(', ')}; new bytes in the repeat backup: ${r.newBytes2.map(mb).join(', ')} MB; stored bytes of the first backup: ${r.stored1.map(mb).join(', ')} MB.`);

    if (byteaMb > 0) {
      log(`bytea: one ${byteaMb} MB value`);
      await c.createDatabase('bytea_big');
      // Escape output keeps printable bytes 1:1, so the COPY row stays under PostgreSQL's 1 GB limit (hex would double
      // it); the content does not repeat (md5 of a counter), so the vault cannot dedup it away.
      await c.query(`ALTER DATABASE bytea_big SET bytea_output = 'escape'`);
      await c.query(
        `CREATE TABLE big_value (id int PRIMARY KEY, v bytea); ALTER TABLE big_value ALTER COLUMN v SET STORAGE EXTERNAL;
         INSERT INTO big_value SELECT 1, convert_to(string_agg(md5(g::text), '' ORDER BY g), 'UTF8') FROM generate_series(1, ${Math.round((byteaMb * 1e6) / 32)}) g;`,
        [],
        'bytea_big',
      );
      const [src] = await c.query<{ n: string; h: string }>(`SELECT length(v)::text AS n, md5(v) AS h FROM big_value`, [], 'bytea_big');
      const vaultDir = join(work, 'vault-bytea');
      const b = await child({ op: 'backup', vaultDir, create: true, database: 'bytea_big' }, childEnv('bytea_big'));
      const rs = await child({ op: 'restore', vaultDir, database: 'bytea_big', manifestId: b.manifestId, newDatabase: 'bytea_back', jobs: 1 }, childEnv('postgres'));
      const [dst] = await c.query<{ n: string; h: string }>(`SELECT length(v)::text AS n, md5(v) AS h FROM big_value`, [], 'bytea_back');
      lines.push('');
      lines.push(`600 MB-class bytea: one value of ${mb(Number(src!.n))} MB; backup ${sec(b.ms)} s, peak RSS ${(b.maxRssKiB / 1024).toFixed(0)} MiB; restore ${sec(rs.ms)} s, peak RSS ${(rs.maxRssKiB / 1024).toFixed(0)} MiB; restored value ${src!.n === dst!.n && src!.h === dst!.h ? 'identical (length and md5)' : 'DIFFERENT'}.`);
    }
    const text = lines.join('\n') + '\n';
    writeFileSync(outFile, text);
    console.log('\n' + text);
  } finally {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
