/** Test support for the API and CLI tests: a real app (embedded PGlite catalog in a temp data dir, Fastify on a
 *  free loopback port) and a raw HTTP helper that returns status, headers and parsed JSON. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appConfigFrom, buildApp, type App, type AppOverrides } from '../../src/app/index.ts';

export interface TestApp {
  app: App;
  url: string;
  dataDir: string;
  adminToken: string;
  http(method: string, path: string, opts?: { token?: string | null; body?: unknown; rawBody?: string; contentType?: string }): Promise<{ status: number; type: string; json: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/** Starts an app on a fresh temp data dir, or on `dataDir` to restart one (stop() then removes it). */
export async function startTestApp(overrides: AppOverrides = {}, dataDir = mkdtempSync(join(tmpdir(), 'pgvault-api-'))): Promise<TestApp> {
  const app = await buildApp(appConfigFrom({ dataDir, listen: '127.0.0.1:0', logLevel: 'silent' }), { logger: false, ...overrides });
  const { url } = await app.start();
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    app,
    url,
    dataDir,
    adminToken,
    async http(method, path, opts = {}) {
      const headers: Record<string, string> = {};
      const token = opts.token === undefined ? adminToken : opts.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (opts.rawBody !== undefined) body = opts.rawBody;
      else if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        json = { _text: text };
      }
      return { status: res.status, type: res.headers.get('content-type') ?? '', json };
    },
    async stop() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
