import { Inject, Injectable, Logger } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../chrono-forge.constants.js';
import type { ResolvedOptions } from '../module/resolve-options.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowExecutor } from './workflow.executor.js';

/** Longest interval between two heartbeats. */
export const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Registers this worker process in `chrono_forge_workers` and refreshes its heartbeat, so that when
 * the process dies its locks are taken over after `worker.deadAfter` rather than after the run's
 * `maxDuration`.
 */
@Injectable()
export class WorkerHeartbeat {
  private readonly logger = new Logger(WorkerHeartbeat.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: WorkflowStore,
    private readonly executor: WorkflowExecutor,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** Registers the worker (before it takes any job) and starts beating. */
  async start(): Promise<void> {
    await this.beat();
    const every = Math.min(
      HEARTBEAT_EVERY_MS,
      this.options.worker === false ? HEARTBEAT_EVERY_MS : this.options.worker.deadAfterMs / 6,
    );
    this.timer = setInterval(
      () =>
        void this.beat().catch((err: Error) =>
          this.logger.warn(`Heartbeat failed: ${err.message}`),
        ),
      every,
    );
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    await this.store.query(
      `INSERT INTO ${this.store.workers} (id) VALUES ($1)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
      [this.executor.workerId],
    );
  }

  /** Removes rows of workers dead for a day (called by the recovery sweeper). */
  async prune(): Promise<void> {
    await this.store.query(
      `DELETE FROM ${this.store.workers} WHERE heartbeat_at < now() - interval '1 day'`,
    );
  }

  /** Stops beating and unregisters (a clean shutdown leaves no row behind). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.store
      .query(`DELETE FROM ${this.store.workers} WHERE id = $1`, [this.executor.workerId])
      .catch(() => undefined);
  }
}
