/** Starts Azurite's blob service for a test file: in memory, on a free loopback port, silent, no telemetry.
 *  The caller stops it in afterAll (also when tests fail). The account and key are Azurite's public,
 *  documented development constants, not secrets. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const azuriteAccountName = 'devstoreaccount1';
export const azuriteAccountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteHandle {
  /** e.g. http://127.0.0.1:41234/devstoreaccount1 */
  blobEndpoint: string;
  accountName: string;
  accountKey: string;
  connectionString: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const bin = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'azurite-blob');

/** Starts Azurite and resolves once it listens; rejects (and kills it) when it does not within timeoutMs. */
export async function startAzurite(timeoutMs = 30_000): Promise<AzuriteHandle> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const workspace = mkdtempSync(join(tmpdir(), 'pgvault-azurite-'));
    const child = spawn(
      bin,
      ['--silent', '--disableTelemetry', '--skipApiVersionCheck', '--inMemoryPersistence', '--extentMemoryLimit', '512', '--blobHost', '127.0.0.1', '--blobPort', String(port)],
      // Run in a temp workspace: Azurite may drop files into its working directory.
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: workspace },
    );
    try {
      await waitListening(child, timeoutMs);
    } catch (err) {
      await stopChild(child);
      rmSync(workspace, { recursive: true, force: true });
      if (attempt < 2 && /EADDRINUSE/.test(String(err))) continue; // the port was taken between probe and bind
      throw err;
    }
    // Never outlive the test process, even when it dies without running afterAll.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const blobEndpoint = `http://127.0.0.1:${port}/${azuriteAccountName}`;
    return {
      blobEndpoint,
      accountName: azuriteAccountName,
      accountKey: azuriteAccountKey,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${azuriteAccountName};AccountKey=${azuriteAccountKey};BlobEndpoint=${blobEndpoint};`,
      stop: async () => {
        process.off('exit', killOnExit);
        await stopChild(child);
        rmSync(workspace, { recursive: true, force: true });
      },
    };
  }
}

function waitListening(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => done(new Error(`Azurite did not start within ${timeoutMs} ms: ${out.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (/successfully listen/i.test(out)) done();
      else if (/EADDRINUSE/.test(out)) done(new Error(`Azurite: EADDRINUSE: ${out.slice(-500)}`));
    };
    const onExit = (code: number | null): void => done(new Error(`Azurite exited with ${code} before listening: ${out.slice(-2000)}`));
    function done(err?: Error): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
