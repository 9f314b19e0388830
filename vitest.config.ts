import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores, but most integration files wait on servers, fsync, leases and child processes (CPU use of the
    // whole suite is ~30 % with two workers): three files at a time cut the wall time without starving anyone.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
