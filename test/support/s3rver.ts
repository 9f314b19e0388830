/** Starts s3rver (an S3 emulator) as a child process for a test file, on a free loopback port with a temp
 *  data directory; the caller stops it in afterAll. It runs with --openssl-legacy-provider because s3rver
 *  encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its legacy provider.
 *  s3rver ignores If-None-Match and object lock: tests of those semantics cannot run against it.
 *  Its credentials are fixed, public test values. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface S3rverHandle {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  stop(): Promise<void>;
}

const script = join(import.meta.dirname, '..', '..', 'node_modules', 's3rver', 'bin', 's3rver.js');

/** Starts s3rver with the given buckets already created; rejects (and kills it) if it does not listen in time. */
export async function startS3rver(buckets: string[], timeoutMs = 30_000): Promise<S3rverHandle> {
  const directory = mkdtempSync(join(tmpdir(), 'pgvault-s3rver-'));
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', script, '-d', directory, '-a', '127.0.0.1', '-p', '0', '--silent', ...buckets.flatMap((b) => ['--configure-bucket', b])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    await stopChild(child);
    rmSync(directory, { recursive: true, force: true });
  };
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${timeoutMs} ms: ${out.slice(-2000)}`)), timeoutMs);
      const onData = (d: Buffer): void => {
        out += d.toString();
        const m = /listening on [^:\s]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code} before listening: ${out.slice(-2000)}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1', stop };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
