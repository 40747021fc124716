import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { type Job, type PostgresPoolConfig, Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import {
  CHRONO_FORGE_RESOLVED_OPTIONS,
  MERGE_JOB,
  RUN_JOB,
} from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { ResolvedRedisBackend } from '../options/redis-options.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { ChronoForgeClock } from '../util/clock.js';
import { NotInitializedError } from '../errors/not-initialized.error.js';
import { redactUrl } from '../util/redact.util.js';
import {
  DEFAULT_JOB_OPTIONS,
  type MergeJobData,
  mergeJobId,
  type RunJobData,
  runJobId,
} from './job-data.js';
import { PostgresBullMQ, postgresQueueUnavailable, QUEUE_POOL_MAX } from './postgres-backend.js';
import { addRecovered, LocalWakes, waitForRedis } from './queue-jobs.js';
import {
  type DedicatedQueue,
  dedicatedQueueNames,
  postgresQueue,
  type QueueWorker,
  redisQueue,
  startWorkers,
  syncCleanupScheduler,
} from './dedicated-queues.js';
import { connectRedis } from './redis-connection.js';

export { redactUrl } from '../util/redact.util.js';
export { REDIS_BOOT_TIMEOUT_MS } from './queue-jobs.js';

/**
 * The BullMQ queue that carries wake-ups, and (in worker processes) its worker. The engine builds
 * them itself rather than through `BullModule.registerQueue`, because the queue name and backend
 * come from runtime options.
 *
 * - `queue: { redis }`: BullMQ's Redis backend; the queue is built in the constructor.
 * - `queue: { postgres }`: BullMQ's PostgreSQL backend, chosen for this queue and its worker only
 *   (`withBackend`, not the process-wide default), in ChronoForge's database unless a
 *   `connectionString` is given. Its tables are created and migrated at boot; the queue is built in
 *   `onModuleInit`, once the database (possibly the embedded server) is reachable.
 */
@Injectable()
export class WorkflowQueue implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(WorkflowQueue.name);
  private readonly connections: Array<Redis | Cluster> = [];
  private queue: Queue | undefined;
  /** The dedicated queues (merge polls, maintenance), built with the run queue. */
  private readonly dedicated = new Map<DedicatedQueue, Queue>();
  private workers: QueueWorker[] = [];
  private worker: QueueWorker | undefined;
  private postgres: PostgresPoolConfig | undefined;
  private ready: Promise<Queue>;
  private settle!: { resolve: (q: Queue) => void; reject: (err: unknown) => void };
  private releaseDatabase: (() => void) | undefined;
  private lastRedisError: Error | undefined;
  /** Connection errors are logged only once boot reached the queue: before, boot fails with one. */
  private booted = false;
  private readonly localWakes = new LocalWakes();

  constructor(
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
    private readonly clock: ChronoForgeClock,
    private readonly database: ChronoForgeDatabase,
  ) {
    this.ready = new Promise<Queue>((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => undefined); // the failure surfaces through onModuleInit
    if (options.queue.kind === 'redis') {
      const connection = this.connect(options.queue);
      const queue = new Queue(options.queueName, {
        connection,
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
        ...(options.queue.prefix ? { prefix: options.queue.prefix } : {}),
      });
      for (const [kind, name] of dedicatedQueueNames(this.options))
        this.dedicated.set(kind, redisQueue(name, connection, options.queue));
      this.adopt(queue);
    }
  }

  private adopt(queue: Queue): void {
    this.queue = queue;
    for (const q of [queue, ...this.dedicated.values()])
      q.on('error', (err) => {
        if (this.booted) this.logger.error(`Queue error: ${redactUrl(err.message)}`);
      });
    this.settle.resolve(queue);
  }

  /** Dedicated queue `kind` (merge polls or maintenance jobs). */
  dedicatedQueue(kind: DedicatedQueue): Queue {
    const queue = this.dedicated.get(kind);
    if (queue) return queue;
    throw new NotInitializedError(
      `WorkflowQueue: the ${kind} queue is not initialized yet (onModuleInit has not run).`,
    );
  }

  async onModuleInit(): Promise<void> {
    const backend = this.options.queue;
    if (backend.kind === 'redis') return this.awaitRedis(backend.url);
    try {
      const endpoint = backend.connectionString
        ? { connectionString: backend.connectionString }
        : await this.database.sessionEndpoint();
      // Same server as the database: keep an embedded server up until the pools below closed.
      if (!backend.connectionString) this.releaseDatabase = this.database.retain();
      // bullmq hands the config to `pg` as it is; its typings only narrow `password` to a string.
      const connection = {
        ...endpoint,
        schema: backend.schema,
        migrate: true,
        application_name: 'chronoforge-queue',
      } as PostgresPoolConfig;
      this.postgres = connection;
      const queue = new PostgresBullMQ.Queue(this.options.queueName, {
        connection: { ...connection, max: QUEUE_POOL_MAX },
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      });
      for (const [kind, name] of dedicatedQueueNames(this.options))
        this.dedicated.set(kind, postgresQueue(name, connection));
      // The public `bullQueue` keeps its `Queue` type: add/addBulk/getJobs/getJobCounts/obliterate/close
      // are the same on both backends; only the backend type parameter differs.
      this.adopt(queue as unknown as Queue);
      // Creates/migrates the backend's tables and surfaces connection errors at boot.
      await queue.waitUntilReady().catch((err: unknown) => {
        throw postgresQueueUnavailable(connection, err);
      });
      for (const q of this.dedicated.values()) await q.waitUntilReady();
      this.booted = true;
    } catch (err) {
      this.settle.reject(err);
      throw err;
    }
  }

  private connect(backend: ResolvedRedisBackend): Redis | Cluster {
    const redis = connectRedis(backend);
    redis.on('error', (err: Error) => (this.lastRedisError = err)); // also on queue/worker 'error'
    this.connections.push(redis);
    return redis;
  }

  /** Fails boot when Redis does not answer, dropping the connections (see `waitForRedis`). */
  private async awaitRedis(url: string): Promise<void> {
    try {
      await waitForRedis(this.bullQueue, url, () => this.lastRedisError);
      this.booted = true;
    } catch (err) {
      this.connections.forEach((c) => c.disconnect());
      throw err;
    }
  }

  /** Enqueues a pass of run `workflowId` at `wakeAt` (now when omitted); lower `priority` first. */
  async enqueueRun(workflowId: string, wakeAt?: Date | null, avoidJobId?: string, priority = 0) {
    const queue = this.queue ?? (await this.ready);
    const now = this.clock.now();
    const wakeMs = wakeAt ? wakeAt.getTime() : now;
    let jobId = runJobId(workflowId, wakeMs);
    // NOTE: the job that is running right now still exists; re-using its id would be a no-op.
    if (jobId === avoidJobId) jobId = runJobId(workflowId, wakeMs, 'r');
    const delay = Math.max(0, wakeMs - now);
    await queue.add(RUN_JOB, { workflowId } satisfies RunJobData, { jobId, delay, priority });
    // NOTE: Redis only. BullMQ's PostgreSQL backend `promote` reads the job's state and then
    // updates it without re-checking, so a local promote racing the worker's own promotion can put
    // a job that was just claimed back to waiting: it then runs twice ("Lock mismatch" errors).
    if (delay > 0 && this.worker && this.options.queue.kind === 'redis')
      this.localWakes.schedule(queue, jobId, delay);
  }

  /** Enqueues the pass of a parent a child's end woke (its wake time was stored with the end). */
  async wakeParent(parentId: string, wakeAt: Date | null): Promise<void> {
    await this.enqueueRun(parentId, wakeAt);
  }

  /**
   * One `addBulk` for a batch of spawned children (ids collapse with jobs already queued). A failure
   * during a pass is the engine's (`engineStatement`: `EngineFaultError`, a later pass enqueues
   * them; the children are stored), never a failed spawn the workflow could catch.
   */
  async enqueueChildren(children: { id: string; next_run_at: Date }[]): Promise<void> {
    if (children.length === 0) return;
    await this.bullQueue.addBulk(
      children.map((c) => ({
        name: RUN_JOB,
        data: { workflowId: c.id } satisfies RunJobData,
        opts: { jobId: runJobId(c.id, new Date(c.next_run_at).getTime()) },
      })),
    );
  }

  /** Schedules poll number `poll` of a BranchMergeJob after `delayMs`. */
  async enqueueMerge(data: MergeJobData, delayMs: number, poll: number): Promise<void> {
    await this.dedicatedQueue('merge').add(MERGE_JOB, data, {
      jobId: mergeJobId(data, poll),
      delay: Math.max(0, Math.round(delayMs)),
    });
  }

  /** Enqueues an immediate pass for each overdue run, one job per run and window (`addRecovered`). */
  async enqueueRecovered(items: { id: string; wake: Date; stale: boolean }[]): Promise<void> {
    if (items.length === 0) return;
    const queue = this.queue ?? (await this.ready);
    await addRecovered(queue, items, this.clock.now());
  }

  /**
   * Keeps the maintenance queue's one cleanup job scheduler in line with `everyMs`: registers or
   * updates it (idempotent, so every worker process may call it at boot), or removes it when `null`.
   */
  async scheduleCleanup(everyMs: number | null): Promise<void> {
    await this.ready;
    await syncCleanupScheduler(this.dedicatedQueue('maintenance'), this.bullQueue, everyMs);
  }

  /**
   * Starts consuming `run` jobs, and merge and maintenance jobs on their own queues (after
   * `onModuleInit`, e.g. from `onApplicationBootstrap`).
   */
  startWorker(handler: (job: Job<RunJobData>) => Promise<void>, concurrency: number): void {
    const backend = this.options.queue;
    const workers = startWorkers(
      this.options,
      handler as (job: Job) => Promise<void>,
      concurrency,
      {
        redis: () => this.connect(backend as ResolvedRedisBackend),
        postgres: () => this.postgresConnection(),
      },
    );
    for (const worker of workers)
      worker.on('error', (err) => this.logger.error(`Worker error: ${redactUrl(err.message)}`));
    this.worker = workers[0];
    this.workers = workers;
  }

  private postgresConnection(): PostgresPoolConfig {
    if (!this.postgres)
      throw new NotInitializedError(
        'WorkflowQueue: the PostgreSQL queue is not initialized yet (onModuleInit has not run); start the worker from onApplicationBootstrap on.',
      );
    return this.postgres;
  }

  /** Stops taking new jobs and waits for the active ones to finish. */
  async stopWorker(): Promise<void> {
    this.localWakes.clear();
    await Promise.all(this.workers.map((w) => w.close()));
    this.workers = [];
    this.worker = undefined;
  }

  /**
   * The underlying BullMQ queue (tests and operations tooling); available once the module
   * initialized. On the PostgreSQL backend it is that backend's queue, typed as `Queue`.
   */
  get bullQueue(): Queue {
    if (!this.queue)
      throw new NotInitializedError(
        'WorkflowQueue: the queue is not initialized yet (onModuleInit has not run); use it from onApplicationBootstrap on, or after app.init().',
      );
    return this.queue;
  }

  async onApplicationShutdown(): Promise<void> {
    try {
      await this.stopWorker();
      await this.queue?.close();
      await Promise.all([...this.dedicated.values()].map((q) => q.close()));
      await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
    } finally {
      this.releaseDatabase?.();
      this.releaseDatabase = undefined;
    }
  }
}
