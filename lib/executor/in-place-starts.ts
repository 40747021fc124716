import { AsyncResource } from 'node:async_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { WorkflowDefinition } from '../definitions/workflow.registry.js';
import { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { PassSlots } from './pass-slots.js';
import { WorkflowExecutor } from './workflow.executor.js';

/**
 * `worker.startInPlace`: the first pass of a run `client.start` just created runs in the starting
 * worker process, with no queue job and no wait for a worker to pick one, while the process runs
 * fewer than `worker.concurrency` passes. The run row is committed before (persist-before-enqueue
 * holds as before): a process that dies before the pass locks the run leaves an overdue idle run,
 * which the recovery sweeper enqueues; a pass that fails before it ends (an engine statement that
 * keeps failing) hands the run to the queue.
 */
@Injectable()
export class InPlaceStarts {
  private readonly logger = new Logger(InPlaceStarts.name);
  private open = false;
  private sequence = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /**
   * The async context of the module's creation, outside any run: an in-place pass runs in it, not
   * in its caller's (a step or transaction of another run that called `client.start` would leak
   * its run scope, step name and `EntityManager` into the new run's pass otherwise).
   */
  private readonly root = new AsyncResource('chronoforge.in-place-start');

  constructor(
    private readonly executor: WorkflowExecutor,
    private readonly slots: PassSlots,
    private readonly queue: WorkflowQueue,
    private readonly metrics: ChronoForgeMetrics,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** From the worker's start on (its job loop runs): starts may run in place. */
  accept(): void {
    const { worker } = this.options;
    this.open = worker !== false && worker.startInPlace;
  }

  /**
   * Whether it runs the first pass of run `id` of `def`, just created by a start with `priority`
   * and wake-up `wakeAt` (`false`: enqueue it as usual). Only a plain start (no start rules,
   * priority 0) is due now.
   */
  tryRun(def: WorkflowDefinition, id: string, priority: number, wakeAt: Date | null): boolean {
    if (def.flow?.singleton || def.flow?.debounce || priority !== 0) return false;
    // NOTE: the slot is given back when the pass (or its hand-over) ends, never twice.
    if (!this.open || !this.slots.tryTakeInPlace()) return false;
    const jobId = `inplace-${id}-${++this.sequence}`;
    const startedAt = Date.now();
    const pass: Promise<void> = this.root
      .runInAsyncScope(() => {
        // The queue lag of a pass that had no job: from the start to the pass (a queued start's
        // lag is from its job's creation to its pickup).
        this.metrics.job(startedAt, 0);
        return this.executor.runPass(id, jobId);
      })
      .then(async (taken) => {
        // Not due by this process's clock (behind PostgreSQL's): the queue waits for it.
        if (taken === 'not-due') await this.handOver(id, wakeAt);
      })
      .catch(async (err: unknown) => {
        this.logger.warn(
          `The in-place first pass of run ${id} failed (${(err as Error).message}); enqueued instead`,
        );
        await this.handOver(id, null);
      })
      .finally(() => {
        this.slots.giveInPlace();
        this.inFlight.delete(pass);
      });
    this.inFlight.add(pass);
    return true;
  }

  /** Stops taking starts, then waits for the passes in flight (the executor drains them). */
  async stop(): Promise<void> {
    this.open = false;
    await Promise.all([...this.inFlight]);
  }

  /** Hands run `id` to the queue (a pass that threw, as a failed job would be retried). */
  private async handOver(id: string, wakeAt: Date | null): Promise<void> {
    try {
      await this.queue.enqueueRun(id, wakeAt);
    } catch (err) {
      this.logger.error(
        `Enqueuing run ${id} failed (${(err as Error).message}); the recovery sweeper will`,
      );
    }
  }
}
