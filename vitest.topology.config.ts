import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { freePorts } from './test/topology/support/processes.ts';

/**
 * The topology suite (`npm run test:topology`): a representative subset of the e2e specs (start,
 * steps, sleep, signals, transactional start; with TOPOLOGY_FULL=1 also crash takeover, the CLI,
 * timers, branches, exactly-once transactional steps and the dashboard) with
 * DATABASE_URL pointing at a private PgBouncer in transaction pooling mode (started by
 * test/topology/global-setup.ts in front of the direct PostgreSQL, which stays DATABASE_DIRECT_URL),
 * on both queue backends; plus test/topology/**\/*.topology.ts, which start their own PgBouncer
 * (session mode), Redis Cluster, Redis Sentinel and worker processes.
 */
const fromRoot = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/**
 * The e2e specs run through the transaction pooler: by default (and in CI, bounded) two on both
 * backends; TOPOLOGY_FULL=1 adds crash takeover, the CLI, timers, branches, exactly-once
 * transactional steps and the dashboard (several minutes on 2 cores). Crash takeover across worker
 * processes is also test/topology/many-workers.topology.ts.
 */
const BOTH = ['test/e2e/workflow.e2e.spec.ts', 'test/e2e/signals-transactional.e2e.spec.ts'];
const FULL = [
  ...BOTH,
  'test/e2e/crash-recovery.e2e.spec.ts',
  'test/e2e/cli.e2e.spec.ts',
  'test/e2e/timers.e2e.spec.ts',
  'test/e2e/branches.e2e.spec.ts',
  'test/e2e/transactional.e2e.spec.ts',
  'test/e2e/dashboard.e2e.spec.ts',
];
const full = process.env.TOPOLOGY_FULL === '1';
const e2e = full ? FULL : BOTH;

export default defineConfig(async () => {
  // Vitest may evaluate this config more than once in one process: the first pick stands.
  const direct =
    process.env.DATABASE_DIRECT_URL ??
    process.env.DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/test';
  const port = Number(process.env.TOPO_PGBOUNCER_PORT) || (await freePorts(1))[0];
  const pooled = new URL(direct);
  pooled.hostname = '127.0.0.1';
  pooled.port = String(port);
  const env = {
    TOPO_PGBOUNCER_PORT: String(port),
    DATABASE_DIRECT_URL: direct,
    DATABASE_URL: pooled.toString(),
    CHRONOFORGE_DB_POOLER: 'transaction',
  };
  // The global setups run in this process: they see the pooled URL too.
  Object.assign(process.env, env);
  const project = (queue: 'redis' | 'postgres') => ({
    extends: true as const,
    test: {
      name: queue,
      // The topology files choose their queue backends themselves: they run once.
      include: queue === 'redis' ? [...e2e, 'test/topology/**/*.topology.ts'] : e2e,
      env: { ...env, CF_QUEUE: queue },
    },
  });
  return {
    test: {
      environment: 'node',
      testTimeout: 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
      maxWorkers: 2,
      globalSetup: ['test/topology/global-setup.ts', 'test/support/global-setup.ts'],
      setupFiles: ['test/support/setup-env.ts'],
      projects: [project('redis'), project('postgres')],
    },
    plugins: [swc.vite({ module: { type: 'es6' } })],
    // As in vitest.config.ts: the sample app's package self-reference resolves to lib/.
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
