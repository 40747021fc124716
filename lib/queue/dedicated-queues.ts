import { type Job, type PostgresPoolConfig, Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { ResolvedRedisBackend } from '../options/redis-options.js';
import { CLEANUP_JOB, CLEANUP_SCHEDULER_ID } from '../options/chrono-forge.constants.js';
import { DEFAULT_JOB_OPTIONS } from './job-data.js';
import { PostgresBullMQ, WORKER_POOL_MAX } from './postgres-backend.js';
import type { ResolvedOptions } from '../options/resolve-options.js';

/** The queues a deployment uses besides its run queue: merge polls and maintenance. */
export type DedicatedQueue = 'merge' | 'maintenance';

/** Connections of a dedicated queue on the PostgreSQL backend (its jobs are few). */
const DEDICATED_POOL_MAX = 2;
/** Merge polls one worker process runs at once (each is a couple of short statements). */
export const MERGE_CONCURRENCY = 4;

/** A worker of either backend, as WorkflowQueue keeps it. */
export interface QueueWorker {
  close(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** A dedicated queue on Redis, sharing the run queue's connection. */
export function redisQueue(
  name: string,
  connection: Redis | Cluster,
  backend: ResolvedRedisBackend,
): Queue {
  return new Queue(name, {
    connection,
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
    ...(backend.prefix ? { prefix: backend.prefix } : {}),
  });
}

/** A dedicated queue on the PostgreSQL backend, with a small pool of its own. */
export function postgresQueue(name: string, connection: PostgresPoolConfig): Queue {
  const queue = new PostgresBullMQ.Queue(name, {
    connection: { ...connection, max: DEDICATED_POOL_MAX },
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
  });
  return queue as unknown as Queue;
}

/** A worker of `name` on either backend. */
export function queueWorker(
  name: string,
  handler: (job: Job) => Promise<void>,
  concurrency: number,
  backend:
    | { kind: 'redis'; connection: Redis | Cluster; prefix?: string }
    | { kind: 'postgres'; connection: PostgresPoolConfig; max: number },
): QueueWorker {
  if (backend.kind === 'redis')
    return new Worker(name, handler, {
      connection: backend.connection,
      concurrency,
      ...(backend.prefix ? { prefix: backend.prefix } : {}),
    });
  return new PostgresBullMQ.Worker(name, handler, {
    connection: { ...backend.connection, max: backend.max },
    concurrency,
  });
}

/** The pool size of a dedicated queue's worker on the PostgreSQL backend. */
export function dedicatedWorkerPool(concurrency: number): number {
  return Math.min(concurrency + 1, DEDICATED_POOL_MAX + 1);
}

/**
 * Keeps the one cleanup job scheduler of `maintenance` in line with `everyMs` (idempotent; removed
 * when `null`), and removes one an older version registered on the run queue.
 */
export async function syncCleanupScheduler(
  maintenance: Queue,
  runQueue: Queue,
  everyMs: number | null,
): Promise<void> {
  await runQueue.removeJobScheduler(CLEANUP_SCHEDULER_ID);
  if (everyMs === null) {
    await maintenance.removeJobScheduler(CLEANUP_SCHEDULER_ID);
    return;
  }
  await maintenance.upsertJobScheduler(
    CLEANUP_SCHEDULER_ID,
    { every: everyMs },
    {
      name: CLEANUP_JOB,
      data: {},
      // NOTE: a failed cleanup is not retried: the next interval runs it again.
      opts: { attempts: 1, removeOnComplete: true, removeOnFail: true },
    },
  );
}

/** The dedicated queues and their names (options: `queues`). */
export function dedicatedQueueNames(options: ResolvedOptions): Array<[DedicatedQueue, string]> {
  return [
    ['merge', options.mergeQueueName],
    ['maintenance', options.maintenanceQueueName],
  ];
}

/**
 * The workers of a process: run jobs (`concurrency`), and merge polls and maintenance on their own
 * queues, so they never wait behind run jobs.
 */
export function startWorkers(
  options: ResolvedOptions,
  handler: (job: Job) => Promise<void>,
  concurrency: number,
  connect: { redis: () => Redis | Cluster; postgres: () => PostgresPoolConfig },
): QueueWorker[] {
  const backend = options.queue;
  const on = (name: string, n: number, max: number) =>
    queueWorker(
      name,
      handler,
      n,
      backend.kind === 'redis'
        ? { kind: 'redis', connection: connect.redis(), prefix: backend.prefix }
        : { kind: 'postgres', connection: connect.postgres(), max },
    );
  const merge = Math.min(concurrency, MERGE_CONCURRENCY);
  return [
    on(options.queueName, concurrency, Math.min(concurrency + 1, WORKER_POOL_MAX)),
    on(options.mergeQueueName, merge, dedicatedWorkerPool(merge)),
    on(options.maintenanceQueueName, 1, dedicatedWorkerPool(1)),
  ];
}
