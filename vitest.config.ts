import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { redactUrl } from './lib/util/redact.util.ts';
import { probeRedis } from './sample-app/common/service-probe.ts';

/**
 * The test matrix. CF_QUEUE=redis|postgres runs every selected file on that queue backend. Without
 * CF_QUEUE, two projects run: `redis` (every spec) and `postgres` (the e2e specs again, on BullMQ's
 * PostgreSQL backend). When Redis does not answer at REDIS_URL, only the PostgreSQL queue runs.
 * PostgreSQL itself falls back to an embedded server (test/support/global-setup.ts).
 */
/** Specs that choose their queue backend themselves, so CF_QUEUE does not change them. */
const BACKEND_PINNED_SPECS = [
  'test/e2e/postgres-queue.e2e.spec.ts',
  'test/e2e/embedded-postgres.e2e.spec.ts',
  'test/e2e/secrets.e2e.spec.ts',
];

const fromRoot = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig(async () => {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await probeRedis(redisUrl);
  process.env.CF_REDIS_AVAILABLE = redis.ok ? '1' : '0';
  const requested = process.env.CF_QUEUE;
  if (requested !== undefined && requested !== 'redis' && requested !== 'postgres') {
    throw new Error(`CF_QUEUE must be "redis" or "postgres", got "${requested}"`);
  }
  if (!redis.ok && requested !== 'redis') {
    process.stdout.write(
      `[chronoforge tests] Redis is not reachable at ${redactUrl(redisUrl)} (${redis.reason}); running the suite on the PostgreSQL queue only.\n`,
    );
  }
  const single = requested ?? (redis.ok ? undefined : 'postgres');
  // Per-project settings; projects inherit the rest (`extends: true`), arrays included, so these
  // are not repeated at the root when there are projects.
  const project = (queue: 'redis' | 'postgres', include: string[], exclude: string[] = []) => ({
    include,
    ...(exclude.length > 0 ? { exclude } : {}),
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    env: { CF_QUEUE: queue },
  });
  return {
    test: {
      environment: 'node',
      testTimeout: 30_000,
      hookTimeout: 60_000,
      pool: 'forks',
      // Each suite owns its schema and queue name, so suites may run side by side.
      maxWorkers: 2,
      ...(single
        ? project(single, ['test/**/*.spec.ts'])
        : {
            projects: [
              {
                extends: true,
                test: { name: 'redis', ...project('redis', ['test/**/*.spec.ts']) },
              },
              {
                extends: true,
                // The specs that pin their own backend already ran in the redis project.
                test: {
                  name: 'postgres',
                  ...project('postgres', ['test/e2e/**/*.spec.ts'], BACKEND_PINNED_SPECS),
                },
              },
            ],
          }),
    },
    plugins: [swc.vite({ module: { type: 'es6' } })],
    // The sample app imports the package by name (its self-reference, dist/ at run time); under
    // vitest it must be the same lib/ sources the specs import, or there would be two copies.
    resolve: {
      alias: [
        { find: /^@chronoforge\/nestjs$/, replacement: fromRoot('lib/index.ts') },
        { find: /^@chronoforge\/nestjs\/testing$/, replacement: fromRoot('lib/testing/index.ts') },
        {
          find: /^@chronoforge\/nestjs\/migrations$/,
          replacement: fromRoot('migrations/index.ts'),
        },
      ],
    },
  };
});
