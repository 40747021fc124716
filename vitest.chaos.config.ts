import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { freePorts } from './test/support/processes.ts';

/**
 * The chaos suite (`npm run test:chaos`): its files are `test/chaos/*.chaos.ts`, which the default
 * config (`test/**\/*.spec.ts`) does not pick up. It restarts PostgreSQL and Redis: by default a
 * private PostgreSQL cluster and Redis server on free ports (test/chaos/services.ts), so suites and
 * processes using the shared services are not disturbed; CHAOS_SERVICES=shared restarts the
 * machine's services at DATABASE_URL/REDIS_URL's defaults (127.0.0.1:5432 and :6379) instead.
 */
export default defineConfig(async () => {
  const shared = process.env.CHAOS_SERVICES === 'shared';
  const env: Record<string, string> = {
    // Redis restarts are part of the chaos: run on the Redis queue unless CF_QUEUE says otherwise.
    CF_QUEUE: process.env.CF_QUEUE ?? 'redis',
    CHAOS_SERVICES: shared ? 'shared' : 'private',
  };
  if (!shared) {
    const [pg, redis] = await freePorts(2);
    Object.assign(env, {
      CHAOS_PG_PORT: String(pg),
      CHAOS_REDIS_PORT: String(redis),
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pg}/test`,
      REDIS_URL: `redis://127.0.0.1:${redis}`,
    });
  }
  return {
    test: {
      environment: 'node',
      include: ['test/chaos/**/*.chaos.ts'],
      testTimeout: 300_000,
      hookTimeout: 120_000,
      pool: 'forks',
      maxWorkers: 1,
      env,
    },
    plugins: [swc.vite({ module: { type: 'es6' } })],
  };
});
