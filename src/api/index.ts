/** The HTTP API of pgvault: buildApiServer() and the route modules, the ports it needs from the service
 *  core (tokens, audit, vaults, jobs …), and the contract shared with the CLI. Only src/app builds a server. */
export * from './contract/index.ts';
export * from './errors.ts';
export * from './ports.ts';
export * from './add-route.ts';
export * from './server.ts';
export * from './pagination.ts';
export { problemOf, toPgvaultError } from './problem.ts';
export { tokenRoutes, tokenView } from './routes/tokens.ts';
export { systemRoutes } from './routes/system.ts';
