import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each suite owns its schema and queue name, so suites may run side by side.
    maxWorkers: 2,
  },
  plugins: [swc.vite({ module: { type: 'es6' } })],
});
