/** Project-agnostic pieces shared by every module: the error model, redaction, the clock, stream backpressure, put-if-absent without hard links.
 *  Imports nothing but Node built-ins. */
export * from './errors.ts';
export * from './redact.ts';
export * from './clock.ts';
export * from './drained.ts';
export * from './stop.ts';
export * from './rename-if-absent.ts';
export * from './schedule/index.ts';
export * from './retention/index.ts';
