import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { RetryPolicy, type RetryStrategy, toRetryStrategy } from '../executor/retry-policy.js';
import type { ChronoForgeModuleOptions } from '../interfaces/chrono-forge-options.interface.js';
import { toMs } from '../util/duration.util.js';
import { describeValue } from '../util/describe.util.js';
import type { DataSource } from 'typeorm';

/** Module options after validation and defaults; what the engine's providers consume. */
export interface ResolvedOptions {
  database: { url?: string; dataSource?: DataSource; schema: string; poolSize: number };
  redisUrl: string;
  queueName: string;
  worker: { concurrency: number } | false;
  migrationsRun: boolean;
  maxDurationMs: number;
  recovery: { everyMs: number; batchSize: number } | false;
  defaultRetry: RetryStrategy;
  defaultStepRetry: RetryStrategy;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function fail(message: string): never {
  throw new InvalidOptionsError(`ChronoForgeModule: ${message}`);
}

function positiveInt(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    fail(`${what} must be a positive integer, got ${describeValue(value)}.`);
  }
  return value;
}

/** Validates `forRoot`/`forRootAsync` options and applies the defaults in one place. */
export function resolveOptions(options: ChronoForgeModuleOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') fail('options must be an object.');
  const db = options.database;
  if (!db || typeof db !== 'object') fail('`database` is required: { url } or { dataSource }.');
  if (!db.url && !db.dataSource) fail('`database` needs a `url` or a `dataSource`.');
  if (db.url !== undefined && (typeof db.url !== 'string' || !/^postgres(ql)?:\/\//.test(db.url))) {
    fail('`database.url` must be a postgres:// connection string.');
  }
  const schema = db.schema ?? 'public';
  if (!IDENTIFIER.test(schema)) fail(`\`database.schema\` must be a plain SQL identifier, got ${JSON.stringify(schema)}.`);
  const redisUrl = options.queue?.redis?.url;
  if (typeof redisUrl !== 'string' || !/^rediss?:\/\//.test(redisUrl)) {
    fail('`queue.redis.url` must be a redis:// URL.');
  }
  const queueName = options.queueName ?? 'chronoforge';
  if (typeof queueName !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(queueName)) {
    fail('`queueName` must be 1-100 characters of letters, digits, "_", "." or "-".');
  }
  const worker =
    options.worker === false
      ? false
      : { concurrency: positiveInt(options.worker?.concurrency, '`worker.concurrency`', 10) };
  const recovery =
    options.recovery === false
      ? false
      : {
          everyMs: Math.max(10, toMs(options.recovery?.every ?? '30s', '`recovery.every`')),
          batchSize: positiveInt(options.recovery?.batchSize, '`recovery.batchSize`', 500),
        };
  const maxDurationMs = toMs(options.maxDuration ?? '10m', '`maxDuration`');
  if (maxDurationMs < 100) fail('`maxDuration` must be at least 100ms.');
  return {
    database: { url: db.url, dataSource: db.dataSource, schema, poolSize: positiveInt(db.poolSize, '`database.poolSize`', 10) },
    redisUrl,
    queueName,
    worker,
    migrationsRun: options.migrationsRun ?? true,
    maxDurationMs,
    recovery,
    defaultRetry: toRetryStrategy(options.defaultRetry, '`defaultRetry`') ?? RetryPolicy.workflowDefault(),
    defaultStepRetry: toRetryStrategy(options.defaultStepRetry, '`defaultStepRetry`') ?? RetryPolicy.stepDefault(),
  };
}
