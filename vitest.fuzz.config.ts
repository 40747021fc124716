import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/**
 * The generative suite (`npm run test:fuzz`): its files are `test/fuzz/*.fuzz.ts`, which the default
 * config (`test/**\/*.spec.ts`) does not pick up. One file at a time (each boots its own app and
 * runs batches of concurrent programs); CF_QUEUE=redis|postgres selects the queue backend
 * (default redis). See test/fuzz/fuzz.fuzz.ts for the knobs.
 */
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/fuzz/**/*.fuzz.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    env: { CF_QUEUE: process.env.CF_QUEUE ?? 'redis' },
  },
  plugins: [swc.vite({ module: { type: 'es6' } })],
});
