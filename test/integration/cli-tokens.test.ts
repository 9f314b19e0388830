/** The CLI against a real `pgvault serve` child process: server and token found through --data-dir,
 *  PGVAULT_URL/PGVAULT_TOKEN or flags; token create/list/revoke in table and json output; errors as
 *  `ERROR [code]` + `HINT:` with the category's exit code; serve's first-start admin token (0600), its
 *  exclusive lock on the embedded catalog, and its graceful shutdown on SIGTERM. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, cleanup, runCli, startServe, type ServeProcess } from './cli-test-server.ts';

let s: ServeProcess;
beforeAll(async () => {
  s = await startServe();
});
afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.dataDir);
});

describe('pgvault CLI: tokens and the framework', () => {
  it('serve writes admin.token with mode 0600 and server.url on first start', () => {
    const st = statSync(join(s.dataDir, 'admin.token'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(adminToken(s.dataDir)).toMatch(/^pgv_/);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('finds server and token through --data-dir, and creates, lists and revokes tokens', async () => {
    const created = await runCli(['--data-dir', s.dataDir, '--output', 'json', 'token', 'create', 'ci-bot', '--role', 'backup-operator']);
    expect(created.code, created.stderr).toBe(0);
    const token = JSON.parse(created.stdout) as { id: string; token: string; role: string };
    expect(token.role).toBe('backup-operator');

    const who = await runCli(['whoami'], { env: { PGVAULT_URL: s.url, PGVAULT_TOKEN: token.token } });
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/^role:\s+backup-operator$/m);

    const table = await runCli(['--data-dir', s.dataDir, 'token', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+ROLE\s+CREATED\s+REVOKED$/);
    expect(lines.some((l) => /\bci-bot\s+backup-operator\b/.test(l))).toBe(true);
    expect(table.stdout).not.toContain(token.token);
    // columns are aligned: every row starts NAME at the same offset
    const nameAt = lines[0]!.indexOf('NAME');
    for (const l of lines.slice(1)) expect(l[nameAt - 1]).toBe(' ');

    const revoked = await runCli(['--url', s.url, '--data-dir', s.dataDir, 'token', 'revoke', token.id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^revokedAt:\s+\d{4}-/m);

    const after = await runCli(['whoami'], { env: { PGVAULT_URL: s.url, PGVAULT_TOKEN: token.token } });
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/^ERROR \[UserErrorUnauthenticated\]: /m);
    expect(after.stderr).toMatch(/^HINT: /m);
    expect(after.stderr).not.toContain(token.token);
  });

  it('a role without the permission gets ERROR [UserErrorPermissionDenied] and exit 2', async () => {
    const created = await runCli(['--data-dir', s.dataDir, '--output', 'json', 'token', 'create', 'just-reading', '--role', 'reader']);
    const reader = (JSON.parse(created.stdout) as { token: string }).token;
    const res = await runCli(['token', 'create', 'escalate', '--role', 'admin'], { env: { PGVAULT_URL: s.url, PGVAULT_TOKEN: reader } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^ERROR \[UserErrorPermissionDenied\]: .*needs permission "admin"/m);
    expect(res.stderr).toMatch(/^HINT: .*admin/m);
  });

  it('audit list shows the mutating calls, refused ones too', async () => {
    const res = await runCli(['--data-dir', s.dataDir, 'audit', 'list', '--limit', '10']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.split('\n')[0]).toMatch(/^AT\s+ACTOR\s+ACTION\s+TARGET\s+RESULT$/);
    expect(res.stdout).toMatch(/POST \/v1\/tokens\s+token:\S+\s+ok/);
    expect(res.stdout).toContain('UserErrorPermissionDenied');
  });

  it('bad usage and bad input exit 2 with a coded error; an unreachable server exits 4', async () => {
    const unknown = await runCli(['--data-dir', s.dataDir, 'token', 'lsit']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^ERROR \[UserErrorInvalidInput\]: unknown command/m);
    const role = await runCli(['--data-dir', s.dataDir, 'token', 'create', 'x', '--role', 'root']);
    expect(role.code).toBe(2);
    expect(role.stderr).toMatch(/^ERROR \[UserErrorInvalidInput\]: --role "root"/m);
    const name = await runCli(['--data-dir', s.dataDir, 'token', 'create', '../etc', '--role', 'reader']);
    expect(name.code).toBe(2);
    expect(name.stderr).toMatch(/^ERROR \[UserErrorInvalidInput\]: body field "name" is not a valid name/m);
    const down = await runCli(['--url', 'http://127.0.0.1:9', '--token', 'pgv_xxxxxxxxxxxxxxxxxxxxxxxx', 'whoami']);
    expect(down.code).toBe(4);
    expect(down.stderr).toMatch(/^ERROR \[TransientErrorServerUnreachable\]: /m);
    expect(down.stderr).not.toContain('pgv_xxxxxxxx');
  });

  it('a second serve on the same data dir is refused: the embedded catalog is locked', async () => {
    const second = await runCli(['serve', '--data-dir', s.dataDir, '--listen', '127.0.0.1:0'], { timeoutMs: 60_000 });
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/^ERROR \[UserErrorCatalogLocked\]: /m);
  });

  it('serve shuts down gracefully on SIGTERM and keeps its tokens across a restart (no new admin token)', async () => {
    const before = adminToken(s.dataDir);
    expect(await s.stop()).toBe(0);
    expect(s.output()).toContain('SIGTERM: shutting down');
    const again = await startServe([], s.dataDir);
    try {
      expect(again.output()).not.toContain('first start');
      expect(adminToken(s.dataDir)).toBe(before);
      const who = await runCli(['--data-dir', s.dataDir, 'whoami']);
      expect(who.code, who.stderr).toBe(0);
      expect(who.stdout).toMatch(/^name:\s+admin$/m);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });
});
