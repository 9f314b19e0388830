/** The contract of the HTTP API shared by the server, the CLI and any dashboard: roles and permissions,
 *  JSON schemas, the route table and the typed client. Holds no server code and imports only lib. */
export * from './roles.ts';
export * from './schemas.ts';
export * from './routes.ts';
export * from './api-client.ts';
