/** The vault benchmark (issue 3): on the pg_dump -Fc -Z0 stream of the fixture database (test/support/fixture.ts,
 *  PostgreSQL 15), side by side in one run, median of --runs: write throughput vs `cat > file` and vs
 *  `restic backup --stdin` (from the dump file, and live from pg_dump); load throughput vs `restic dump`; storage
 *  after 5 saves with ~2 % churn under three churn patterns vs restic and vs 5 `pg_dump -Fc` files; peak RSS of
 *  save and load (child processes); chunker MB/s; and with --big-gib N a generated N GiB save/load for peak RSS.
 *  Usage: node --import tsx bench/vault-bench.ts [--scale 115] [--runs 3] [--big-gib 10] [--skip-churn] [--skip-live] [--only-churn] [--only-big]
 *         [--patterns recent,scattered-one,scattered-all]
 *  Writes bench/results/vault-<date>.md. Says clearly when restic is missing (apt-get install -y restic). */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, openSync, closeSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { FilesystemBackend } from '../src/storage/index.ts';
import { Chunker, defaultChunkerParams, gearTable, Vault } from '../src/vault/index.ts';
import { buildFixture, churn, startCluster, type PgCluster } from '../test/support/index.ts';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    'big-gib': { type: 'string', default: '0' },
    'skip-churn': { type: 'boolean', default: false },
    'skip-live': { type: 'boolean', default: false },
    'only-big': { type: 'boolean', default: false },
    'only-churn': { type: 'boolean', default: false },
    patterns: { type: 'string', default: 'recent,scattered-one,scattered-all' },
    out: { type: 'string' },
  },
});
const runs = Number(args.runs);
const scale = Number(args.scale);
const bigGiB = Number(args['big-gib']);
const root = join(process.env.PGVAULT_BENCH_DIR ?? tmpdir(), `pgvault-bench-${process.pid}`);
mkdirSync(root, { recursive: true });
const passphrase = `bench-${process.pid}-${Math.random()}`;
const childEnv = { ...process.env, PGVAULT_BENCH_PASSPHRASE: passphrase, RESTIC_PASSWORD: passphrase };
const childBundle = join(root, 'vault-bench-child.mjs');
const lines: string[] = [];
const started = Date.now();

function log(s: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${s}`);
}
let outFile = '';
/** Result lines go to the results file as they come, so that an interrupted run keeps what it measured. */
function out(s = ''): void {
  lines.push(s);
  console.log(s);
  if (outFile) writeFileSync(outFile, `${s}\n`, { flag: 'a' });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const mbps = (bytes: number, ms: number): string => (bytes / 1e6 / (ms / 1000)).toFixed(0);
const mib = (kib: number): string => (kib / 1024).toFixed(0);
/** The pipeline's own memory: highest RSS sampled while the stream ran, minus the RSS once the vault was open. */
function pipelineMem(rs: { openedRssKiB: number; pipelinePeakRssKiB: number }[]): string {
  const grow = median(rs.map((r) => r.pipelinePeakRssKiB - r.openedRssKiB));
  return `Pipeline: RSS once open ${mib(median(rs.map((r) => r.openedRssKiB)))} MiB, highest while streaming ${mib(median(rs.map((r) => r.pipelinePeakRssKiB)))} MiB, **+${mib(grow)} MiB** (target ≤ 128).`;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

const resticVersion = (() => {
  const r = spawnSync('restic', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();

interface Timed {
  ms: number;
  maxRssKiB?: number;
  stdout: string;
}

/** Runs argv with stdin from a file (or a child's stdout) and stdout to a file or /dev/null; wall time. */
function runTimed(argv: string[], opts: { stdinFile?: string; stdinFrom?: NodeJS.ReadableStream; stdoutFile?: string; capture?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const inFd = opts.stdinFile ? openSync(opts.stdinFile, 'r') : undefined;
    const outFd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : undefined;
    const t0 = performance.now();
    const p = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? childEnv,
      stdio: [inFd ?? (opts.stdinFrom ? 'pipe' : 'ignore'), outFd ?? (opts.capture ? 'pipe' : 'ignore'), 'pipe'],
    });
    if (opts.stdinFrom) opts.stdinFrom.pipe(p.stdin!);
    let stdout = '';
    let stderr = '';
    p.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (inFd !== undefined) closeSync(inFd);
      if (outFd !== undefined) closeSync(outFd);
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ ms, stdout });
    });
  });
}

/** pg_dump of `db` with the password in the environment (never argv). */
function pgDumpArgv(cluster: PgCluster, db: string, compress: boolean): { argv: string[]; env: NodeJS.ProcessEnv } {
  return {
    argv: ['pg_dump', '-h', cluster.host, '-p', String(cluster.port), '-U', cluster.superuser, '-Fc', ...(compress ? [] : ['-Z0']), '-d', db],
    env: { ...process.env, PGPASSWORD: cluster.password },
  };
}

async function dumpToFile(cluster: PgCluster, db: string, file: string): Promise<number> {
  const d = pgDumpArgv(cluster, db, false);
  await runTimed(d.argv, { stdoutFile: file, env: d.env });
  return statSync(file).size;
}

async function compressedDumpBytes(cluster: PgCluster, db: string): Promise<number> {
  const file = join(root, 'compressed.dump');
  const d = pgDumpArgv(cluster, db, true);
  await runTimed(d.argv, { stdoutFile: file, env: d.env });
  const n = statSync(file).size;
  rmSync(file);
  return n;
}

async function newVault(name: string): Promise<string> {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  await Vault.create(new FilesystemBackend(dir), { passphrase });
  return dir;
}

async function resticInit(name: string): Promise<string> {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  await runTimed(['restic', '-r', dir, 'init', '-q']);
  return dir;
}

interface ChildResult {
  id: string;
  bytes: number;
  newBytes?: number;
  storedBytes?: number;
  ms: number;
  maxRssKiB: number;
  baselineRssKiB: number;
  openedRssKiB: number;
  pipelinePeakRssKiB: number;
}

async function vaultChild(args: string[], opts: { stdinFile?: string; stdinFrom?: NodeJS.ReadableStream } = {}): Promise<ChildResult & { wallMs: number }> {
  const r = await runTimed([process.execPath, childBundle, ...args], { ...opts, capture: true });
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult), wallMs: r.ms };
}

async function vaultSave(dir: string, stdin: { stdinFile?: string; stdinFrom?: NodeJS.ReadableStream }): Promise<ChildResult & { wallMs: number }> {
  return vaultChild(['save', dir], stdin);
}

async function resticBackup(repo: string, stdin: { stdinFile?: string; stdinFrom?: NodeJS.ReadableStream }): Promise<Timed> {
  return runTimed(['restic', '-r', repo, 'backup', '-q', '--stdin', '--stdin-filename', 'db.dump'], stdin);
}

function chunkerThroughput(file: string, limitBytes: number): Promise<{ bytes: number; ms: number; chunks: number }> {
  return new Promise((resolve, reject) => {
    const c = new Chunker(gearTable(Buffer.alloc(32, 1)), defaultChunkerParams);
    let bytes = 0;
    let chunks = 0;
    let ms = 0;
    createReadStream(file, { end: limitBytes - 1, highWaterMark: 1 << 20 })
      .on('data', (d) => {
        const t = performance.now();
        chunks += c.push(d as Buffer).length;
        ms += performance.now() - t;
        bytes += d.length;
      })
      .on('end', () => resolve({ bytes, ms, chunks: chunks + c.finish().length }))
      .on('error', reject);
  });
}

/** The child is bundled once (esbuild) so that its start-up, like restic's, costs ~0.2 s and no tsx. */
async function bundleChild(): Promise<void> {
  const req = createRequire(import.meta.url);
  await build({
    entryPoints: [join(import.meta.dirname, 'vault-bench-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: childBundle,
    logLevel: 'error',
    banner: { js: "import { createRequire as __pgvCreateRequire } from 'node:module'; const require = __pgvCreateRequire(import.meta.url);" },
    plugins: [
      {
        name: 'native-by-path',
        setup(b) {
          b.onResolve({ filter: /^(@mongodb-js\/zstd|zstd-napi)$/ }, (a) => ({ path: req.resolve(a.path), external: true }));
        },
      },
    ],
  });
}

async function main(): Promise<void> {
  await bundleChild();
  const date = new Date().toISOString().slice(0, 10);
  outFile = args.out ?? join(import.meta.dirname, 'results', `vault-${date}.md`);
  if (existsSync(outFile)) writeFileSync(outFile, '\n', { flag: 'a' });
  out(`# Vault benchmark, ${new Date().toISOString()}`);
  out();
  out(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}; load average at start ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (other engineers share the machine).`);
  out(`restic: ${resticVersion ?? '**MISSING — install it with `apt-get install -y restic`; restic columns are skipped**'}`);
  out(`Medians of ${runs} runs. Vault and restic write to the same local disk; streams are read from a file unless marked live.`);
  out();

  if (!args['only-big']) {
    log(`starting PostgreSQL 15 and building the fixture at scale ${scale}`);
    const cluster = await startCluster({ major: 15, settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } });
    try {
      const tb = Date.now();
      const fx = await buildFixture(cluster, 'bench_base', { scale, seed: 1 });
      log(`fixture built in ${((Date.now() - tb) / 1000).toFixed(0)} s: ${mb(fx.sizeBytes)} MB`);
      const base = join(root, 'base.dump');
      const dumpBytes = await dumpToFile(cluster, 'bench_base', base);
      out(`Stream: \`pg_dump -Fc -Z0\` of the fixture database (scale ${scale}, pg_database_size ${mb(fx.sizeBytes)} MB): **${mb(dumpBytes)} MB**.`);
      out();

      if (!args['only-churn']) {
        // Chunker alone.
        const ch = await chunkerThroughput(base, Math.min(dumpBytes, 512 << 20));
        out(`Chunker (FastCDC gear-32, 512 KiB / 1 MiB / 8 MiB), in process over ${mb(ch.bytes)} MB of the stream: **${mbps(ch.bytes, ch.ms)} MB/s**, ${ch.chunks} chunks (mean ${(ch.bytes / ch.chunks / 1024).toFixed(0)} KiB).`);
        out();

        // Write throughput, from the file.
        log('write throughput');
        const cat: number[] = [];
        const vs: (ChildResult & { wallMs: number })[] = [];
        const rs: number[] = [];
        let keepVault = '';
        let keepManifest = '';
        let keepRepo = '';
        for (let i = 0; i < runs; i++) {
          cat.push((await runTimed(['cat'], { stdinFile: base, stdoutFile: join(root, 'cat.out') })).ms);
          rmSync(join(root, 'cat.out'));
          const vdir = await newVault(`vault-w${i}`);
          const v = await vaultSave(vdir, { stdinFile: base });
          vs.push(v);
          if (i === 0) {
            keepVault = vdir;
            keepManifest = v.id;
          } else rmSync(vdir, { recursive: true, force: true });
          if (resticVersion) {
            const repo = await resticInit(`restic-w${i}`);
            rs.push((await resticBackup(repo, { stdinFile: base })).ms);
            if (i === 0) keepRepo = repo;
            else rmSync(repo, { recursive: true, force: true });
          }
          log(`  run ${i + 1}: cat ${cat.at(-1)!.toFixed(0)} ms, vault ${v.wallMs.toFixed(0)} ms, restic ${rs.at(-1)?.toFixed(0) ?? '-'} ms`);
        }
        const vMed = median(vs.map((v) => v.wallMs));
        out('## Write (first save, from the dump file)');
        out();
        out('| tool | wall s (median) | MB/s | runs (s) |');
        out('| --- | --- | --- | --- |');
        out(`| cat stream > file | ${(median(cat) / 1000).toFixed(2)} | ${mbps(dumpBytes, median(cat))} | ${cat.map((x) => (x / 1000).toFixed(2)).join(', ')} |`);
        out(`| pgvault save (child process, bundled, incl. start-up) | ${(vMed / 1000).toFixed(2)} | ${mbps(dumpBytes, vMed)} | ${vs.map((x) => (x.wallMs / 1000).toFixed(2)).join(', ')} |`);
        out(`| pgvault save, pipeline only (in-process timer) | ${(median(vs.map((v) => v.ms)) / 1000).toFixed(2)} | ${mbps(dumpBytes, median(vs.map((v) => v.ms)))} | ${vs.map((x) => (x.ms / 1000).toFixed(2)).join(', ')} |`);
        if (resticVersion) out(`| restic backup --stdin | ${(median(rs) / 1000).toFixed(2)} | ${mbps(dumpBytes, median(rs))} | ${rs.map((x) => (x / 1000).toFixed(2)).join(', ')} |`);
        out();
        if (resticVersion) out(`Ratio pgvault / restic wall time (medians): **${(vMed / median(rs)).toFixed(2)}×** (target ≤ 0.9×).`);
        out(`Vault stored ${mb(vs[0]!.storedBytes ?? 0)} MB for ${mb(dumpBytes)} MB; vault dir ${mb(dirBytes(keepVault))} MB${keepRepo ? `, restic repo ${mb(dirBytes(keepRepo))} MB` : ''}.`);
        out(`Peak RSS of pgvault save: ${mib(median(vs.map((v) => v.maxRssKiB)))} MiB (process after start-up and imports: ${mib(median(vs.map((v) => v.baselineRssKiB)))} MiB). ${pipelineMem(vs)}`);
        out();

        // Live from pg_dump.
        if (!args['skip-live']) {
          log('live pg_dump pipe');
          const lv: number[] = [];
          const lr: number[] = [];
          for (let i = 0; i < runs; i++) {
            const d = pgDumpArgv(cluster, 'bench_base', false);
            const vdir = await newVault(`vault-live${i}`);
            const dump1 = spawn(d.argv[0]!, d.argv.slice(1), { env: d.env, stdio: ['ignore', 'pipe', 'ignore'] });
            lv.push((await vaultSave(vdir, { stdinFrom: dump1.stdout! })).wallMs);
            rmSync(vdir, { recursive: true, force: true });
            if (resticVersion) {
              const repo = await resticInit(`restic-live${i}`);
              const dump2 = spawn(d.argv[0]!, d.argv.slice(1), { env: d.env, stdio: ['ignore', 'pipe', 'ignore'] });
              lr.push((await resticBackup(repo, { stdinFrom: dump2.stdout! })).ms);
              rmSync(repo, { recursive: true, force: true });
            }
            log(`  run ${i + 1}: vault ${lv.at(-1)!.toFixed(0)} ms, restic ${lr.at(-1)?.toFixed(0) ?? '-'} ms`);
          }
          out('## Write (first save, live: pg_dump -Fc -Z0 | tool)');
          out();
          out(`pgvault ${(median(lv) / 1000).toFixed(2)} s (${lv.map((x) => (x / 1000).toFixed(2)).join(', ')})` + (resticVersion ? `; restic ${(median(lr) / 1000).toFixed(2)} s (${lr.map((x) => (x / 1000).toFixed(2)).join(', ')}); ratio **${(median(lv) / median(lr)).toFixed(2)}×**.` : '.'));
          out();
        }

        // Load throughput.
        log('load throughput');
        const vl: (ChildResult & { wallMs: number })[] = [];
        const rl: number[] = [];
        for (let i = 0; i < runs; i++) {
          vl.push(await vaultChild(['load', keepVault, keepManifest]));
          if (resticVersion) rl.push((await runTimed(['restic', '-r', keepRepo, 'dump', '-q', 'latest', 'db.dump'], { stdoutFile: '/dev/null' })).ms);
          log(`  run ${i + 1}: vault ${vl.at(-1)!.wallMs.toFixed(0)} ms, restic ${rl.at(-1)?.toFixed(0) ?? '-'} ms`);
        }
        const vlMed = median(vl.map((v) => v.wallMs));
        out('## Load (to /dev/null)');
        out();
        out('| tool | wall s (median) | MB/s | runs (s) |');
        out('| --- | --- | --- | --- |');
        out(`| pgvault load (child process, incl. start-up) | ${(vlMed / 1000).toFixed(2)} | ${mbps(dumpBytes, vlMed)} | ${vl.map((x) => (x.wallMs / 1000).toFixed(2)).join(', ')} |`);
        out(`| pgvault load, pipeline only | ${(median(vl.map((v) => v.ms)) / 1000).toFixed(2)} | ${mbps(dumpBytes, median(vl.map((v) => v.ms)))} | ${vl.map((x) => (x.ms / 1000).toFixed(2)).join(', ')} |`);
        if (resticVersion) out(`| restic dump | ${(median(rl) / 1000).toFixed(2)} | ${mbps(dumpBytes, median(rl))} | ${rl.map((x) => (x / 1000).toFixed(2)).join(', ')} |`);
        out();
        if (resticVersion) out(`Ratio pgvault / restic load throughput (medians): **${(median(rl) / vlMed).toFixed(2)}×** (target ≥ 1.2×).`);
        out(`Peak RSS of pgvault load: ${mib(median(vl.map((v) => v.maxRssKiB)))} MiB (after start-up: ${mib(median(vl.map((v) => v.baselineRssKiB)))} MiB). ${pipelineMem(vl)}`);
        out();
        rmSync(keepVault, { recursive: true, force: true });
        if (keepRepo) rmSync(keepRepo, { recursive: true, force: true });

      }

      // Storage after 5 saves with churn.
      if (!args['skip-churn']) {
        const baseCompressed = await compressedDumpBytes(cluster, 'bench_base');
        out('## Storage after 5 saves, ~2 % of rows changed between saves');
        out();
        out('| churn pattern | pgvault MB | restic MB | 5 × pg_dump -Fc MB | pgvault / restic | pgvault / (1 compressed dump per save) | repeat-save wall s pgvault / restic (median of 4) |');
        out('| --- | --- | --- | --- | --- | --- | --- |');
        const allPatterns = ['recent', 'scattered-one', 'scattered-all'] as const;
        const chosen = args.patterns.split(',');
        for (const bad of chosen.filter((p) => !(allPatterns as readonly string[]).includes(p))) throw new Error(`unknown churn pattern "${bad}" (${allPatterns.join(', ')})`);
        for (const pattern of allPatterns.filter((p) => chosen.includes(p))) {
          log(`churn pattern ${pattern}`);
          const db = `bench_${pattern.replace('-', '_')}`;
          await cluster.createDatabase(db, undefined, { template: 'bench_base' });
          const vdir = await newVault(`vault-${pattern}`);
          const repo = resticVersion ? await resticInit(`restic-${pattern}`) : '';
          let compressedSum = baseCompressed;
          const repeatV: number[] = [];
          const repeatR: number[] = [];
          await vaultSave(vdir, { stdinFile: base });
          if (resticVersion) await resticBackup(repo, { stdinFile: base });
          for (let step = 1; step < 5; step++) {
            const r = await churn(cluster, db, { fraction: 0.02, pattern, seed: step });
            const file = join(root, `step.dump`);
            await dumpToFile(cluster, db, file);
            compressedSum += await compressedDumpBytes(cluster, db);
            const v = await vaultSave(vdir, { stdinFile: file });
            repeatV.push(v.wallMs);
            if (resticVersion) repeatR.push((await resticBackup(repo, { stdinFile: file })).ms);
            log(`  step ${step}: ${r.updated} updated, ${r.deleted} deleted, ${r.inserted} inserted; vault new ${mb(v.newBytes ?? 0)} MB stored ${mb(v.storedBytes ?? 0)} MB in ${v.wallMs.toFixed(0)} ms; restic ${repeatR.at(-1)?.toFixed(0) ?? '-'} ms`);
            rmSync(file);
          }
          const vBytes = dirBytes(vdir);
          const rBytes = resticVersion ? dirBytes(repo) : NaN;
          out(
            `| ${pattern} | ${mb(vBytes)} | ${resticVersion ? mb(rBytes) : '-'} | ${mb(compressedSum)} | ${resticVersion ? (vBytes / rBytes).toFixed(2) : '-'} | ${(vBytes / compressedSum).toFixed(2)} | ${(median(repeatV) / 1000).toFixed(2)} / ${resticVersion ? (median(repeatR) / 1000).toFixed(2) : '-'}${resticVersion ? ` = **${(median(repeatV) / median(repeatR)).toFixed(2)}×**` : ''} |`,
          );
          rmSync(vdir, { recursive: true, force: true });
          if (repo) rmSync(repo, { recursive: true, force: true });
          await cluster.dropDatabase(db);
        }
        out();
        out('Pattern "recent": updates on the newest rows of app.events and app.orders; "scattered-one": all over app.events; "scattered-all": all over every data table (test/support/fixture.ts churn()).');
        out();
      }
      rmSync(base, { force: true });
    } finally {
      await cluster.stop();
    }
  }

  if (bigGiB > 0) {
    log(`generated ${bigGiB} GiB save and load`);
    const vdir = await newVault('vault-big');
    const bytes = bigGiB * 1024 ** 3;
    const s = await vaultChild(['save-generated', vdir, String(bytes)]);
    log(`  save ${s.wallMs.toFixed(0)} ms, RSS ${mib(s.maxRssKiB)} MiB`);
    const l = await vaultChild(['load', vdir, s.id]);
    log(`  load ${l.wallMs.toFixed(0)} ms, RSS ${mib(l.maxRssKiB)} MiB`);
    out(`## ${bigGiB} GiB generated stream (mixed rows and random bytes, no repeats)`);
    out();
    out(`Save: ${(s.ms / 1000).toFixed(1)} s (${mbps(bytes, s.ms)} MB/s), stored ${mb(s.storedBytes ?? 0)} MB, **peak RSS ${mib(s.maxRssKiB)} MiB** (after start-up ${mib(s.baselineRssKiB)} MiB). ${pipelineMem([s])}`);
    out(`Load: ${(l.ms / 1000).toFixed(1)} s (${mbps(bytes, l.ms)} MB/s), **peak RSS ${mib(l.maxRssKiB)} MiB** (after start-up ${mib(l.baselineRssKiB)} MiB). ${pipelineMem([l])}`);
    out();
    rmSync(vdir, { recursive: true, force: true });
  }

  out(`Total benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  log(`wrote ${outFile}`);
}

try {
  await main();
} finally {
  rmSync(root, { recursive: true, force: true });
}
