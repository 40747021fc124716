import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { EmbeddedPostgresServer } from '../../lib/database/embedded-postgres.js';
import { redactUrl } from '../../lib/queue/workflow.queue.js';
import { probePostgres, probeRedis } from '../../sample-app/common/service-probe.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** PostgreSQL of this run: DATABASE_URL (or its default) when reachable, else the embedded server. */
    cfDatabaseUrl: string;
    /** Whether Redis answered at REDIS_URL. */
    cfRedisAvailable: boolean;
  }
}

interface Services {
  databaseUrl: string;
  redisAvailable: boolean;
  users: number;
  stop: () => Promise<void>;
}

const KEY = Symbol.for('chronoforge.test.services');
type Holder = { [KEY]?: Promise<Services> };

function say(line: string): void {
  process.stdout.write(`[chronoforge tests] ${line}\n`);
}

/**
 * Makes sure the suite has a PostgreSQL: the one at DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test) when it answers within 1.5 s, otherwise an embedded
 * PostgreSQL started for this run in a temporary directory (removed afterwards). Redis is probed
 * too; without it the config already limited the run to the PostgreSQL queue. Both results reach the
 * test workers through `provide` (test/support/setup-env.ts copies them into process.env, whence
 * child worker processes inherit them).
 *
 * Vitest runs global setup once per project; the services are shared and stopped after the last.
 */
async function startServices(): Promise<Services> {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const [pgProbe, redisProbe] = await Promise.all([probePostgres(url), probeRedis(redisUrl)]);
  const redisAvailable = redisProbe.ok;
  if (pgProbe.ok)
    return { databaseUrl: url, redisAvailable, users: 0, stop: async () => undefined };

  say(
    `PostgreSQL is not reachable at ${redactUrl(url)} (${pgProbe.reason}); starting an embedded PostgreSQL for this run.`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'chronoforge-test-pg-'));
  await chmod(dir, 0o755); // as root the server runs as the `postgres` OS user, which must reach the data dir
  const started = Date.now();
  let server: EmbeddedPostgresServer;
  try {
    server = await EmbeddedPostgresServer.start({ dataDir: join(dir, 'pgdata'), database: 'test' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  say(
    `Embedded PostgreSQL is up on 127.0.0.1:${server.port} in ${Date.now() - started} ms (data in ${dir}).`,
  );
  process.env.DATABASE_URL = server.url;
  return {
    databaseUrl: server.url,
    redisAvailable,
    users: 0,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
      say('Embedded PostgreSQL stopped.');
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const holder = globalThis as Holder;
  holder[KEY] ??= startServices();
  const services = await holder[KEY];
  services.users++;
  project.provide('cfDatabaseUrl', services.databaseUrl);
  project.provide('cfRedisAvailable', services.redisAvailable);
  return async () => {
    if (--services.users > 0) return;
    delete holder[KEY];
    await services.stop();
  };
}
