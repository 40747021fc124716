import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/**
 * Timing acceptance suites (`test/e2e/*.acceptance.ts`, e.g. the limits' rate and per-key
 * concurrency across worker processes): they measure wall-clock windows, so they run alone — one
 * file at a time, outside `npm test`'s parallel files, which starve their worker processes of CPU
 * on a 2-core machine. CF_QUEUE=redis|postgres selects the queue backend (default redis); `.ci/run`
 * runs both. ACCEPTANCE_FULL=1 runs the limits suite at the issue's full sizes (see
 * test/e2e/limits.acceptance.ts); the default is bounded for CI.
 */
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/e2e/**/*.acceptance.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    env: { CF_QUEUE: process.env.CF_QUEUE ?? 'redis' },
  },
  plugins: [swc.vite({ module: { type: 'es6' } })],
});
