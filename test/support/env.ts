import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { defaultQueueSchema } from '../../lib/options/resolve-options.js';

/**
 * PostgreSQL the tests use; override with DATABASE_URL. When none is reachable, the global setup
 * (test/support/global-setup.ts) starts an embedded server and sets this variable for the workers.
 */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/**
 * When DATABASE_URL goes through a connection pooler (the topology suite, `npm run test:topology`):
 * CHRONOFORGE_DB_POOLER ('transaction' | 'session') and DATABASE_DIRECT_URL, handed to
 * `database.pooler` / `database.directUrl` of test apps (and read by the CLI the same way).
 */
export const DATABASE_POOLER = process.env.CHRONOFORGE_DB_POOLER as
  'transaction' | 'session' | undefined;
export const DATABASE_DIRECT_URL = process.env.DATABASE_DIRECT_URL;

/** Redis the tests use; override with REDIS_URL. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Queue backends of the test matrix. */
export type QueueBackend = 'redis' | 'postgres';

/**
 * The queue backend test apps use: CF_QUEUE=postgres|redis, default redis. Child worker processes
 * inherit the variable, so they follow it too.
 */
export const QUEUE_BACKEND: QueueBackend = (() => {
  const value = process.env.CF_QUEUE ?? 'redis';
  if (value !== 'redis' && value !== 'postgres')
    throw new Error(`CF_QUEUE must be "redis" or "postgres", got "${value}"`);
  return value;
})();

/** False when the global setup found no Redis (CF_REDIS_AVAILABLE=0): nothing may touch Redis then. */
export const REDIS_AVAILABLE = process.env.CF_REDIS_AVAILABLE !== '0';

/** A name unique to this suite run, usable as a schema and a queue name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** Runs SQL on a short-lived connection. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Drops a suite's schema and its queue on both backends: the PostgreSQL queue schema
 * (`<schema>_bullmq`, the default of `queue: { postgres: true }`) and the Redis queue (when Redis is
 * available), whichever the suite used.
 */
export async function cleanup(schema: string, queueName: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sql(`DROP SCHEMA IF EXISTS "${defaultQueueSchema(schema)}" CASCADE`);
  if (!REDIS_AVAILABLE) return;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  try {
    // The run queue and the dedicated queues whose names derive from it (merge, maintenance).
    for (const name of [queueName, `${queueName}-merge`, `${queueName}-maintenance`]) {
      const queue = new Queue(name, { connection });
      try {
        await queue.obliterate({ force: true });
      } finally {
        await queue.close();
      }
    }
  } finally {
    await connection.quit();
  }
}

/** Polls `check` until it returns a truthy value. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  label = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
