#!/usr/bin/env node
// Entry point: runs the TypeScript sources through tsx's loader so `npx pgvault` works right after `npm ci`.
// `serve` comes from the composition root (src/app); every other command is a client of the HTTP API.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const { registerServe } = await import('../src/app/serve-command.ts');
process.exitCode = await main(process.argv.slice(2), { extend: registerServe });
