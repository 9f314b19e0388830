/** `pgvault secret set NAME`: reads the value from stdin (never from argv), stores it sealed, echoes nothing
 *  of it. One trailing newline is dropped, so `echo pw | pgvault secret set db` stores "pw". */
import type { Command } from 'commander';
import { routes } from '../../api/contract/index.ts';
import { UserErrorInvalidInput } from '../../lib/index.ts';
import { contextFor } from '../context.ts';

export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function register(secret: Command): void {
  secret
    .command('set')
    .description('create or replace a secret; the value is read from stdin and never shown again')
    .argument('<name>', 'secret name, used as secret:NAME in credential references')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { client, print } = contextFor(cmd);
      if (process.stdin.isTTY) process.stderr.write(`value of secret "${name}" (end with Ctrl-D): `);
      const value = await readStdin();
      if (value.length === 0) {
        throw new UserErrorInvalidInput('no secret value on stdin', { hint: `Pipe it in: printf %s "$PASSWORD" | pgvault secret set ${name}` });
      }
      const info = await client.call(routes.secretSet, { params: { name }, body: { value } });
      print.record(info);
      print.note(`use it as secret:${name}`);
    });
}
