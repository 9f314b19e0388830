/** The composition root: buildApp() wires catalog, jobs, operations and the API; `serve` runs it.
 *  Nothing imports app. */
export { buildApp, adminTokenFile, serverUrlFile, type App, type AppOverrides } from './build-app.ts';
export { appConfigFrom, parseListen, type AppConfig } from './app-config.ts';
export { registerServe } from './serve-command.ts';
export { serve, type ServeOptions } from './serve.ts';
