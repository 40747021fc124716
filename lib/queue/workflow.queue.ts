import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { CHRONO_FORGE_RESOLVED_OPTIONS, RUN_JOB } from '../chrono-forge.constants.js';
import type { ResolvedOptions } from '../module/resolve-options.js';
import { ChronoForgeClock } from '../timers/clock.js';

/** Payload of a `run` job: only the run's id; everything else is read from PostgreSQL. */
export interface RunJobData {
  workflowId: string;
}

/** Deterministic job id of a wake-up, so duplicate enqueues of the same wake collapse. */
export function runJobId(workflowId: string, wakeMs: number, tag = ''): string {
  return `run-${workflowId}-${tag}${wakeMs}`;
}

/** Removes credentials from a connection string before it reaches a log line. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z]+:\/\/)[^@/\s]*@/gi, '$1***@');
}

/**
 * The BullMQ queue that carries wake-ups, and (in worker processes) its worker. The engine builds
 * them itself rather than through `BullModule.registerQueue`, because the queue name comes from
 * runtime options and later backends need per-queue construction.
 */
@Injectable()
export class WorkflowQueue implements OnApplicationShutdown {
  private readonly logger = new Logger(WorkflowQueue.name);
  private readonly connections: Redis[] = [];
  private readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
    private readonly clock: ChronoForgeClock,
  ) {
    this.queue = new Queue(options.queueName, {
      connection: this.connect(),
      defaultJobOptions: {
        removeOnComplete: true,
        removeOnFail: true,
        attempts: 5,
        backoff: { type: 'exponential', delay: 500 },
      },
    });
    this.queue.on('error', (err) => this.logger.error(`Queue error: ${redactUrl(err.message)}`));
  }

  private connect(): Redis {
    const redis = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
    redis.on('error', () => undefined); // surfaced through the queue/worker 'error' events
    this.connections.push(redis);
    return redis;
  }

  /** Enqueues a pass of run `workflowId` at `wakeAt` (now when omitted). */
  async enqueueRun(workflowId: string, wakeAt?: Date | null, avoidJobId?: string): Promise<void> {
    const now = this.clock.now();
    const wakeMs = wakeAt ? wakeAt.getTime() : now;
    let jobId = runJobId(workflowId, wakeMs);
    // NOTE: the job that is running right now still exists; re-using its id would be a no-op.
    if (jobId === avoidJobId) jobId = runJobId(workflowId, wakeMs, 'r');
    await this.queue.add(RUN_JOB, { workflowId } satisfies RunJobData, {
      jobId,
      delay: Math.max(0, wakeMs - now),
    });
  }

  /** Enqueues an immediate pass for each id, collapsing onto wakes already queued. */
  async enqueueRecovered(items: { id: string; wake: Date; stale: boolean }[]): Promise<void> {
    if (items.length === 0) return;
    await this.queue.addBulk(
      items.map((it) => ({
        name: RUN_JOB,
        data: { workflowId: it.id } satisfies RunJobData,
        opts: { jobId: runJobId(it.id, it.wake.getTime(), it.stale ? 'stale-' : 'sweep-') },
      })),
    );
  }

  /** Starts consuming `run` jobs. */
  startWorker(handler: (job: Job<RunJobData>) => Promise<void>, concurrency: number): void {
    this.worker = new Worker<RunJobData>(this.options.queueName, handler, {
      connection: this.connect(),
      concurrency,
    });
    this.worker.on('error', (err) => this.logger.error(`Worker error: ${redactUrl(err.message)}`));
  }

  /** Stops taking new jobs and waits for the active ones to finish. */
  async stopWorker(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
  }

  /** The underlying BullMQ queue (tests and operations tooling). */
  get bullQueue(): Queue {
    return this.queue;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stopWorker();
    await this.queue.close();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
