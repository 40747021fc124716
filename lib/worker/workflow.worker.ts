import { enqueueDueRuns } from '../queue/enqueue-due.js';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Job } from 'bullmq';
import { BranchMergeJob } from '../branches/branch-merge.job.js';
import { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import {
  CHRONO_FORGE_RESOLVED_OPTIONS,
  CLEANUP_JOB,
  MERGE_JOB,
  RUN_JOB,
} from '../options/chrono-forge.constants.js';
import { WorkflowExecutor } from '../executor/workflow.executor.js';
import { InPlaceStarts } from '../executor/in-place-starts.js';
import { PassSlots } from '../executor/pass-slots.js';
import { WorkerHeartbeat } from './worker-heartbeat.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { ScheduledCleanup } from '../operations/scheduled-cleanup.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { LimitDeclarations } from '../limits/limit-declarations.js';
import { LimitStore } from '../limits/limit.store.js';
import { ChronoForgeClock } from '../util/clock.js';
import { isMergeJobData, isRunId, type MergeJobData, type RunJobData } from '../queue/job-data.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { ScheduleTicker } from './schedule-ticker.js';
import { StalledDeadlines } from '../sagas/stalled-deadlines.js';

/** Overdue idle runs younger than this are left to their own queued wake-up. */
const SWEEP_GRACE_MS = 1_000;

/**
 * In worker processes: consumes `run`, `merge` and scheduled `cleanup` jobs, and runs the recovery
 * sweeper, which re-enqueues runs whose wake time passed without a job (lost enqueue, flushed
 * Redis) and runs whose lock went stale (crashed worker). Stops both before the application shuts
 * down.
 */
@Injectable()
export class WorkflowWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkflowWorker.name);
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly queue: WorkflowQueue,
    private readonly executor: WorkflowExecutor,
    private readonly store: WorkflowStore,
    private readonly clock: ChronoForgeClock,
    private readonly mergeJob: BranchMergeJob,
    private readonly metrics: ChronoForgeMetrics,
    private readonly heartbeat: WorkerHeartbeat,
    private readonly scheduledCleanup: ScheduledCleanup,
    private readonly limits: LimitDeclarations,
    private readonly limitStore: LimitStore,
    private readonly schedules: ScheduleTicker,
    private readonly stalledDeadlines: StalledDeadlines,
    private readonly inPlace: InPlaceStarts,
    private readonly slots: PassSlots,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { worker, recovery } = this.options;
    if (worker === false) return;
    await this.heartbeat.start();
    await this.limits.declare();
    this.queue.startWorker((job) => this.process(job), worker.concurrency);
    this.inPlace.accept();
    // NOTE: not awaited, like the worker itself: boot does not wait for a queue that is down.
    void this.scheduledCleanup.schedule();
    this.schedules.start();
    if (recovery !== false) {
      void this.sweep();
      this.timer = setInterval(() => void this.sweep(), recovery.everyMs);
      this.timer.unref();
    }
  }

  private async process(job: Job<RunJobData>): Promise<void> {
    this.metrics.job(job.timestamp, job.delay ?? job.opts?.delay ?? 0);
    if (job.name === MERGE_JOB) {
      const data = job.data as unknown as MergeJobData;
      if (!isMergeJobData(data)) {
        this.logger.error(
          `Dropping malformed merge job ${job.id}: ${JSON.stringify(job.data)?.slice(0, 200)}`,
        );
        return;
      }
      await this.mergeJob.poll(data);
      return;
    }
    if (job.name === CLEANUP_JOB) {
      await this.scheduledCleanup.process();
      return;
    }
    const id = job.data?.workflowId;
    if (job.name !== RUN_JOB || !isRunId(id)) {
      this.logger.error(
        `Dropping malformed job ${job.id} (${job.name}): ${JSON.stringify(job.data)?.slice(0, 200)}`,
      );
      return;
    }
    await this.slots.runQueued(() => this.executor.runPass(id, job.id ?? `anon-${Date.now()}`));
  }

  /** One recovery sweep; concurrent calls share the sweep in progress. */
  sweep(): Promise<void> {
    if (this.options.recovery === false) return Promise.resolve();
    const { batchSize } = this.options.recovery;
    this.sweeping ??= (async () => {
      try {
        await enqueueDueRuns(
          { store: this.store, queue: this.queue, clock: this.clock },
          SWEEP_GRACE_MS,
          batchSize,
        );
        // Stalled runs past their deadline: woken, their next pass ends them per `onTimeout`.
        await this.stalledDeadlines.sweep(batchSize);
        // Limits: slots of dead passes are freed and the waiters they held back are woken.
        await this.limitStore.sweep();
        if (Math.random() < 0.01) await this.heartbeat.prune();
      } catch (err) {
        this.logger.warn(`Recovery sweep failed: ${(err as Error).message}`);
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const inPlace = this.inPlace.stop(); // takes no more starts at once
    await this.schedules.stop();
    this.executor.drain();
    await this.sweeping;
    await Promise.all([this.queue.stopWorker(), inPlace]);
    await this.heartbeat.stop();
  }
}
