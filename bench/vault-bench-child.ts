/** Child process of the vault benchmark, so that each save or load has its own peak RSS:
 *    save <vaultDir>                      stdin → one manifest
 *    save-generated <vaultDir> <bytes>    a generated, non-repeating mixed stream of that length → one manifest
 *    load <vaultDir> <manifestId>         the manifest's entry → /dev/null
 *  The passphrase comes from PGVAULT_BENCH_PASSPHRASE (never argv). Prints one JSON line with the wall time,
 *  bytes, peak RSS (process.resourceUsage().maxRSS) and the RSS right after start-up (node + tsx + imports);
 *  and, for the pipeline itself, the RSS once the vault is open (after scrypt's 64 MiB, which maxRSS includes)
 *  and the highest RSS sampled every 25 ms while the stream runs. */
import { createReadStream, createWriteStream, fstatSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FilesystemBackend } from '../src/storage/filesystem/filesystem-backend.ts';
import { Vault, type ManifestId } from '../src/vault/index.ts';

const baselineRssKiB = Math.round(process.memoryUsage.rss() / 1024);
const [mode, dir, arg] = process.argv.slice(2);
const passphrase = process.env.PGVAULT_BENCH_PASSPHRASE;
if (!mode || !dir || !passphrase) {
  console.error('usage: PGVAULT_BENCH_PASSPHRASE=… node --import tsx bench/vault-bench-child.ts save|save-generated|load <vaultDir> [bytes|manifestId]');
  process.exit(2);
}

/** Mixed bytes that never repeat: a 32 MiB pool of text rows with random bytes, each 4 KiB block stamped with a counter. */
function generated(total: number): Readable {
  const pool = Buffer.alloc(32 << 20);
  let p = 0;
  let row = 0;
  while (p < pool.length) {
    // A text row (~90 bytes) then ~30 random bytes (a bytea-like column): about a quarter of the bytes random.
    p += pool.write(`${row}\tcustomer ${row % 9973}\t{"sku": "A-${row % 1000}", "qty": ${row % 17}, "note": "shipped quickly"}\t${(row * 1.37).toFixed(2)}\t`, p);
    for (let i = 0; i < 30 && p < pool.length; i++) pool[p++] = (Math.random() * 256) | 0;
    row++;
  }
  let sent = 0;
  let counter = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(1 << 20, total - sent);
      const off = (sent * 7) % (pool.length - n);
      const piece = Buffer.from(pool.subarray(off, off + n));
      for (let b = 0; b + 8 <= piece.length; b += 4096) piece.writeDoubleLE(counter++, b);
      sent += n;
      this.push(piece);
    },
  });
}

// The source exists before the vault opens: its 32 MiB pool (generated) is the input's memory, not the pipeline's.
// Standard input from a file is read as restic reads it, in large reads: process.stdin would read it 64 KiB at
// a time through the thread pool, ~80 µs of round trip per read, ~0.9 s of waiting per 755 MB. A pipe (the
// live pg_dump runs) is non-blocking here and stays with process.stdin.
function stdin(): Readable {
  return fstatSync(0).isFile() ? createReadStream('', { fd: 0, highWaterMark: 1 << 20 }) : process.stdin;
}
const source = mode === 'save' ? stdin() : mode === 'save-generated' ? generated(Number(arg)) : undefined;
// PGVAULT_BENCH_TUNING: a JSON WriterTuning override, for comparing save-path settings side by side.
const tuning = process.env.PGVAULT_BENCH_TUNING ? (JSON.parse(process.env.PGVAULT_BENCH_TUNING) as Record<string, number>) : undefined;
const vault = await Vault.open(new FilesystemBackend(dir), { passphrase, tuning });
const openedRssKiB = Math.round(process.memoryUsage.rss() / 1024);
let pipelinePeakRssKiB = openedRssKiB;
const sampler = setInterval(() => (pipelinePeakRssKiB = Math.max(pipelinePeakRssKiB, Math.round(process.memoryUsage.rss() / 1024))), 25);
const t0 = performance.now();
let result: Record<string, unknown>;
if (mode === 'save' || mode === 'save-generated') {
  const info = await vault.save(source!, { bench: true });
  result = { id: info.id, bytes: info.sizeBytes, newBytes: info.newBytes, storedBytes: info.storedBytes };
} else if (mode === 'load') {
  const out = createWriteStream('/dev/null');
  let bytes = 0;
  const counted = vault.load(arg as ManifestId);
  counted.on('data', (c: Buffer) => (bytes += c.length));
  await pipeline(counted, out);
  result = { bytes };
} else {
  throw new Error(`unknown mode ${mode}`);
}
const ms = performance.now() - t0;
clearInterval(sampler);
pipelinePeakRssKiB = Math.max(pipelinePeakRssKiB, Math.round(process.memoryUsage.rss() / 1024));
await vault.close();
console.log(JSON.stringify({ ...result, ms, maxRssKiB: process.resourceUsage().maxRSS, baselineRssKiB, openedRssKiB, pipelinePeakRssKiB }));
