/** The CLI module's entry: main() runs `pgvault …`; defaultDataDir() is shared with `serve`. */
export { main, buildProgram, type MainOptions } from './main.ts';
export { defaultDataDir, defaultPort } from './context.ts';
