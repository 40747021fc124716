import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { RetryPolicy, type RetryStrategy, toRetryStrategy } from '../retry/retry-policy.js';
import type { ChronoForgeModuleOptions } from './chrono-forge-options.interface.js';
import { type CleanupOptions, resolveCleanupOptions } from './cleanup-options.js';
import { type Duration, toMaxDurationMs, toMs } from '../util/duration.util.js';
import { describeValue } from '../util/describe.util.js';
import { type StoredLimit, toStoredLimits } from './limit-options.js';
import { resolvePooler } from './pooler-options.js';
import { toInterceptorClasses } from './interceptor-classes.js';
import type { WorkflowInterceptorClass } from './workflow-interceptor.interface.js';
import { resolveRedis, type ResolvedRedisBackend } from './redis-options.js';
import { resolve as resolvePath } from 'node:path';
import type { DataSource } from 'typeorm';

/** Data directory of `database: { embedded: true }`, relative to the working directory. */
export const DEFAULT_EMBEDDED_DATA_DIR = '.chronoforge/pgdata';

/** The queue backend after validation and defaults. */
export type ResolvedQueueBackend =
  | ResolvedRedisBackend
  | {
      kind: 'postgres';
      /** Explicit `queue.postgres.connectionString`; when absent the ChronoForge database is used. */
      connectionString: string | undefined;
      /** Schema of BullMQ's tables. */
      schema: string;
    };

/** Module options after validation and defaults; what the engine's providers consume. */
export interface ResolvedOptions {
  database: {
    url?: string;
    dataSource?: DataSource;
    /** Set when ChronoForge starts its own PostgreSQL; `dataDir` is absolute. */
    embedded?: { dataDir: string; port: number | undefined };
    schema: string;
    poolSize: number;
    /** `database.pooler`: 'transaction' sends unnamed statements only. */
    pooler: 'transaction' | 'session' | undefined;
    /** `database.directUrl`: session work (LISTEN, migrations, PostgreSQL queue) connects here. */
    directUrl: string | undefined;
  };
  queue: ResolvedQueueBackend;
  /** The Redis URL when `queue.kind` is 'redis', otherwise undefined. */
  redisUrl: string | undefined;
  queueName: string;
  /** The queue of BranchMergeJob polls. */
  mergeQueueName: string;
  /** The queue of maintenance jobs (scheduled cleanup). */
  maintenanceQueueName: string;
  worker: { concurrency: number; deadAfterMs: number; startInPlace: boolean } | false;
  migrationsRun: boolean;
  maxDurationMs: number;
  recovery: { everyMs: number; batchSize: number } | false;
  defaultRetry: RetryStrategy;
  defaultStepRetry: RetryStrategy;
  /** Schedule ticks in this process: how often to look for changes; `false` when off. */
  schedules: { pollMs: number } | false;
  /** Scheduled cleanup: its interval and the options handed to `Cleanup.run()`; `false` when off. */
  cleanup: { everyMs: number; options: CleanupOptions } | false;
  /** Named limits of `forRoot({ limits })`, validated, in their stored form. */
  limits: Map<string, StoredLimit>;
  /** `forRoot({ interceptors })`, checked: classes with an interceptor method. */
  interceptors: WorkflowInterceptorClass[];
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

function flag(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean')
    fail(`${what} must be true or false, got ${describeValue(value)}.`);
  return value;
}

/**
 * Default schema of the PostgreSQL queue backend: `<database schema>_bullmq`. Deriving it from the
 * ChronoForge schema keeps deployments (and test suites) that own a schema each apart, and keeps
 * ChronoForge's queue tables out of the `bullmq` schema an application may use for its own queues.
 */
export function defaultQueueSchema(databaseSchema: string): string {
  return `${databaseSchema}_bullmq`;
}

function resolveEmbedded(value: unknown): { dataDir: string; port: number | undefined } {
  const o = value === true ? {} : value;
  if (!o || typeof o !== 'object' || Array.isArray(o)) {
    fail(
      `\`database.embedded\` must be \`true\` or { dataDir?, port? }, got ${describeValue(value)}.`,
    );
  }
  const { dataDir, port } = o as { dataDir?: unknown; port?: unknown };
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir.trim() === '')) {
    fail(`\`database.embedded.dataDir\` must be a non-empty path, got ${describeValue(dataDir)}.`);
  }
  if (
    port !== undefined &&
    (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535)
  ) {
    fail(`\`database.embedded.port\` must be a TCP port (1-65535), got ${describeValue(port)}.`);
  }
  return { dataDir: resolvePath(dataDir ?? DEFAULT_EMBEDDED_DATA_DIR), port };
}

function resolveQueue(queue: unknown, databaseSchema: string): ResolvedQueueBackend {
  const q = (queue && typeof queue === 'object' ? queue : {}) as {
    redis?: unknown;
    postgres?: unknown;
  };
  const hasRedis = q.redis !== undefined;
  const hasPostgres = q.postgres !== undefined;
  if (hasRedis && hasPostgres) {
    fail(
      '`queue` takes exactly one backend: `{ redis: { url } }` or `{ postgres: true | { connectionString?, schema? } }`, not both.',
    );
  }
  if (!hasPostgres) return resolveRedis(q.redis);
  const pg = q.postgres === true ? {} : q.postgres;
  if (!pg || typeof pg !== 'object' || Array.isArray(pg)) {
    fail(
      `\`queue.postgres\` must be \`true\` or { connectionString?, schema? }, got ${describeValue(q.postgres)}.`,
    );
  }
  const { connectionString, schema } = pg as { connectionString?: unknown; schema?: unknown };
  if (
    connectionString !== undefined &&
    (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString))
  ) {
    fail('`queue.postgres.connectionString` must be a postgres:// connection string.');
  }
  if (schema !== undefined && (typeof schema !== 'string' || !IDENTIFIER.test(schema))) {
    fail(`\`queue.postgres.schema\` must be a plain SQL identifier, got ${describeValue(schema)}.`);
  }
  const queueSchema = schema ?? defaultQueueSchema(databaseSchema);
  if (!IDENTIFIER.test(queueSchema)) {
    fail(
      `the default queue schema "${queueSchema}" is longer than 63 characters; set \`queue.postgres.schema\`.`,
    );
  }
  return { kind: 'postgres', connectionString, schema: queueSchema };
}

const CLEANUP_KEYS = new Set([
  'every',
  'olderThan',
  'completedOlderThan',
  'failedOlderThan',
  'pruneRepeatTicksOlderThan',
  'batchSize',
]);

function resolveScheduledCleanup(value: unknown): ResolvedOptions['cleanup'] {
  if (value === undefined) return false;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    fail(`\`cleanup\` must be { every, olderThan?, ... }, got ${describeValue(value)}.`);
  }
  const unknown = Object.keys(value).filter((k) => !CLEANUP_KEYS.has(k));
  if (unknown.length > 0) {
    fail(
      `\`cleanup\` has unknown option(s) ${unknown.join(', ')}; allowed: ${[...CLEANUP_KEYS].join(', ')}.`,
    );
  }
  const { every, ...options } = value as { every?: unknown } & CleanupOptions;
  if (every === undefined) fail("`cleanup.every` is required, e.g. { every: '1h' }.");
  const everyMs = toMs(every as Duration, '`cleanup.every`');
  if (everyMs < 100) fail('`cleanup.every` must be at least 100ms.');
  resolveCleanupOptions(options, 'ChronoForgeModule `cleanup`');
  return { everyMs, options };
}

function resolveSchedules(value: unknown): ResolvedOptions['schedules'] {
  if (value === false) return false;
  if (value !== undefined && (!value || typeof value !== 'object' || Array.isArray(value)))
    fail(`\`schedules\` must be false or { pollEvery }, got ${describeValue(value)}.`);
  const every = (value as { pollEvery?: Duration } | undefined)?.pollEvery ?? '1m';
  const pollMs = toMs(every, '`schedules.pollEvery`');
  if (pollMs < 10 || pollMs > 60_000) fail('`schedules.pollEvery` must be between 10ms and 1m.');
  return { pollMs };
}

/** Validates `forRoot`/`forRootAsync` options and applies the defaults in one place. */
export function resolveOptions(options: ChronoForgeModuleOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') fail('options must be an object.');
  const db = options.database;
  if (!db || typeof db !== 'object')
    fail('`database` is required: { url } or { dataSource } or { embedded: true }.');
  if (db.embedded !== undefined && (db.url !== undefined || db.dataSource !== undefined)) {
    fail('`database.embedded` cannot be combined with `database.url` or `database.dataSource`.');
  }
  const embedded = db.embedded === undefined ? undefined : resolveEmbedded(db.embedded);
  if (!db.url && !db.dataSource && !embedded)
    fail('`database` needs a `url` or a `dataSource` (or `embedded: true`).');
  if (db.url !== undefined && (typeof db.url !== 'string' || !/^postgres(ql)?:\/\//.test(db.url))) {
    fail('`database.url` must be a postgres:// connection string.');
  }
  const schema = db.schema ?? 'public';
  if (!IDENTIFIER.test(schema))
    fail(`\`database.schema\` must be a plain SQL identifier, got ${JSON.stringify(schema)}.`);
  const queue = resolveQueue(options.queue, schema);
  const queueName = options.queueName ?? 'chronoforge';
  if (typeof queueName !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(queueName)) {
    fail('`queueName` must be 1-100 characters of letters, digits, "_", "." or "-".');
  }
  const queueNames = resolveQueueNames(options.queues, queueName);
  const worker =
    options.worker === false
      ? false
      : {
          concurrency: positiveInt(options.worker?.concurrency, '`worker.concurrency`', 10),
          deadAfterMs: Math.max(
            300,
            toMs(options.worker?.deadAfter ?? '30s', '`worker.deadAfter`'),
          ),
          startInPlace: flag(options.worker?.startInPlace, '`worker.startInPlace`'),
        };
  const recovery =
    options.recovery === false
      ? false
      : {
          everyMs: Math.max(10, toMs(options.recovery?.every ?? '30s', '`recovery.every`')),
          batchSize: positiveInt(options.recovery?.batchSize, '`recovery.batchSize`', 500),
        };
  const migrationsRun = options.migrationsRun ?? true;
  const maxDurationMs = toMaxDurationMs(options.maxDuration ?? '10m', '`maxDuration`');
  if (maxDurationMs < 100) fail('`maxDuration` must be at least 100ms.');
  return {
    database: {
      url: db.url,
      dataSource: db.dataSource,
      ...(embedded ? { embedded } : {}),
      schema,
      poolSize: positiveInt(db.poolSize, '`database.poolSize`', 10),
      ...resolvePooler(db, { worker, migrationsRun, queue }),
    },
    queue,
    redisUrl: queue.kind === 'redis' && 'url' in queue.connection ? queue.url : undefined,
    queueName,
    ...queueNames,
    worker,
    migrationsRun,
    maxDurationMs,
    recovery,
    defaultRetry:
      toRetryStrategy(options.defaultRetry, '`defaultRetry`') ?? RetryPolicy.workflowDefault(),
    defaultStepRetry:
      toRetryStrategy(options.defaultStepRetry, '`defaultStepRetry`') ?? RetryPolicy.stepDefault(),
    cleanup: resolveScheduledCleanup(options.cleanup),
    limits: toStoredLimits(options.limits),
    schedules: resolveSchedules(options.schedules),
    interceptors: toInterceptorClasses(options.interceptors, 'ChronoForgeModule `interceptors`'),
  };
}

/** The dedicated queues' names: given (checked like `queueName`, all distinct) or derived. */
function resolveQueueNames(
  queues: { merge?: string; maintenance?: string } | undefined,
  queueName: string,
): { mergeQueueName: string; maintenanceQueueName: string } {
  if (queues !== undefined && (queues === null || typeof queues !== 'object'))
    fail('`queues` must be an object such as { merge: "cf-merge" }.');
  const names = {
    mergeQueueName: queues?.merge ?? `${queueName}-merge`,
    maintenanceQueueName: queues?.maintenance ?? `${queueName}-maintenance`,
  };
  for (const [key, given] of [
    ['merge', queues?.merge],
    ['maintenance', queues?.maintenance],
  ] as const) {
    if (
      given !== undefined &&
      (typeof given !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(given))
    )
      fail(`\`queues.${key}\` must be 1-100 characters of letters, digits, "_", "." or "-".`);
  }
  const all = [queueName, names.mergeQueueName, names.maintenanceQueueName];
  if (new Set(all).size !== all.length)
    fail('`queueName`, `queues.merge` and `queues.maintenance` must be three different names.');
  return names;
}
