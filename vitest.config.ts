import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores: integration files start their own PostgreSQL servers; keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
