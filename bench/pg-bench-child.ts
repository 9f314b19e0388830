/** One pgvault operation of the PostgreSQL benchmark in its own process, so that its peak RSS is its own:
 *  backup (runBackup into a filesystem vault) or restore (runRestore). Reads its job as JSON from argv[2]; the
 *  connection URL and the vault passphrase come through the environment, never argv. Prints one JSON line. */
import { readFileSync } from 'node:fs';
import { runBackup, runRestore } from '../src/operations/index.ts';
import { discoverClients, parsePgUrl } from '../src/postgres/index.ts';
import { FilesystemBackend } from '../src/storage/index.ts';
import { Vault, type ManifestId } from '../src/vault/index.ts';

interface Job {
  /** noop: open the vault and discover clients only, the baseline RSS of the process. */
  op: 'backup' | 'restore' | 'noop';
  vaultDir: string;
  create?: boolean;
  database: string;
  manifestId?: string;
  newDatabase?: string;
  jobs?: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const url = process.env.BENCH_PG_URL ?? '';
const passphrase = process.env.BENCH_VAULT_PASSPHRASE ?? '';
const kdf = { N: 1 << 14, r: 8, p: 1 };

const backend = new FilesystemBackend(job.vaultDir);
const vault = job.create ? await Vault.create(backend, { passphrase, kdf }) : await Vault.open(backend, { passphrase });
const clients = await discoverClients();
const started = performance.now();
const cpu0 = process.cpuUsage();
let out: Record<string, unknown>;
if (job.op === 'backup') {
  const r = await runBackup(vault, parsePgUrl(url), { database: job.database, clients });
  out = { manifestId: r.manifest.id, bytesDumped: r.bytesDumped, bytesNew: r.bytesNew, bytesStored: r.bytesStored, sha256: r.sha256 };
} else if (job.op === 'noop') {
  out = {};
} else {
  const r = await runRestore(vault, job.manifestId as ManifestId, job.database, parsePgUrl(url), { newDatabase: job.newDatabase!, jobs: job.jobs ?? 1, clients });
  out = { mode: r.mode, bytesRead: r.bytesRead, missingRoles: r.missingRoles };
}
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpu0);
// CPU of the pg_restore/pg_dump children this process waited for (fields 16 and 17 of /proc/self/stat, in ticks).
const selfStat = readFileSync('/proc/self/stat', 'utf8');
const stat = selfStat.slice(selfStat.lastIndexOf(')') + 2).split(' ');
const toolsCpuMs = (Number(stat[13]) + Number(stat[14])) * 10;
await vault.close();
console.log(JSON.stringify({ ...out, ms, cpuMs: (cpu.user + cpu.system) / 1000, toolsCpuMs, maxRssKiB: process.resourceUsage().maxRSS }));
