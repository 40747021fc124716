import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';

/** What `database.pooler` / `database.directUrl` resolve to. */
export interface ResolvedPooler {
  pooler: 'transaction' | 'session' | undefined;
  directUrl: string | undefined;
}

/** The rest of the options that decide whether a process needs a session of its own. */
interface SessionNeeds {
  worker: unknown;
  migrationsRun: boolean;
  queue: { kind: 'redis' } | { kind: 'postgres'; connectionString: string | undefined };
}

function fail(message: string): never {
  throw new InvalidOptionsError(`ChronoForgeModule: ${message}`);
}

/**
 * Validates `database.pooler` and `database.directUrl`. Behind a transaction pooler a session lasts
 * one transaction, so whatever needs a session of its own (LISTEN, the migrations' advisory lock,
 * the PostgreSQL queue backend) must have `directUrl`: without it the configuration cannot work,
 * and this fails at boot naming the option to set instead of losing wake-ups later.
 */
export function resolvePooler(
  db: { pooler?: unknown; directUrl?: unknown; embedded?: unknown },
  needs: SessionNeeds,
): ResolvedPooler {
  const { pooler, directUrl } = db as { pooler?: ResolvedPooler['pooler']; directUrl?: string };
  if (pooler !== undefined && pooler !== 'transaction' && pooler !== 'session')
    fail(`\`database.pooler\` must be 'transaction' or 'session', got ${describeValue(pooler)}.`);
  if (
    directUrl !== undefined &&
    (typeof directUrl !== 'string' || !/^postgres(ql)?:\/\//.test(directUrl))
  )
    fail('`database.directUrl` must be a postgres:// connection string.');
  if (db.embedded !== undefined && (pooler !== undefined || directUrl !== undefined))
    fail('`database.embedded` cannot be combined with `database.pooler` or `database.directUrl`.');
  if (pooler === undefined || directUrl !== undefined) return { pooler, directUrl };
  const transaction = pooler === 'transaction';
  const needs_ = [
    transaction &&
      needs.worker !== false &&
      'the wake-up listener of worker processes (LISTEN; or set `worker: false`)',
    transaction &&
      needs.migrationsRun &&
      "the migrations' advisory lock (or set `migrationsRun: false` and migrate elsewhere)",
    // BullMQ's PostgreSQL backend pins its schema with the `options` startup parameter, which
    // PgBouncer does not forward, and LISTENs.
    needs.queue.kind === 'postgres' &&
      needs.queue.connectionString === undefined &&
      'the PostgreSQL queue backend (its `search_path` startup option and LISTEN; or set `queue.postgres.connectionString`)',
  ].filter((n): n is string => typeof n === 'string');
  if (needs_.length > 0)
    fail(
      `\`database.pooler: '${pooler}'\` cannot carry ${needs_.join(', ')}. ` +
        'Set `database.directUrl` to a direct connection string of the same database.',
    );
  return { pooler, directUrl: undefined };
}
