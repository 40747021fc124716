import type { DataSource } from 'typeorm';
import type { RetryOption } from '../executor/retry-policy.js';
import type { Duration } from '../util/duration.util.js';

/**
 * Where ChronoForge keeps its tables.
 *
 * @publicApi
 */
export interface ChronoForgeDatabaseOptions {
  /** PostgreSQL connection string; ChronoForge opens its own TypeORM DataSource. */
  url?: string;
  /** Use the application's own (initialized or not) TypeORM DataSource instead of `url`. */
  dataSource?: DataSource;
  /** Schema holding the ChronoForge tables. @default 'public' */
  schema?: string;
  /** Pool size of the DataSource ChronoForge opens itself. @default 10 */
  poolSize?: number;
}

/**
 * Which BullMQ backend carries continuations.
 *
 * @publicApi
 */
export interface ChronoForgeQueueOptions {
  /** Redis, BullMQ's default backend. */
  redis?: { url: string };
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
  /** Worker settings; `false` makes a client-only process that starts runs but never executes them. @default { concurrency: 10 } */
  worker?: { concurrency?: number } | false;
  /** Run ChronoForge's migrations at boot. @default true */
  migrationsRun?: boolean;
  /** How long a pass may hold a run's lock before another worker may take it over. @default '10m' */
  maxDuration?: Duration;
  /** Recovery sweeper of worker processes; `false` disables it. @default { every: '30s', batchSize: 500 } */
  recovery?: { every?: Duration; batchSize?: number } | false;
  /** Retry policy of workflow-level failures when `@Workflow({ retry })` gives none. */
  defaultRetry?: RetryOption;
  /** Retry policy of steps when neither the call nor the workflow gives one. */
  defaultStepRetry?: RetryOption;
}
