/** Retention: tags by priority, expiry dates, and which recovery points may be expired. Pure: no clock, no I/O. */
export * from './retention-rules.ts';
