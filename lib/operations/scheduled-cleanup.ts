import { Inject, Injectable, Logger } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { redactUrl, WorkflowQueue } from '../queue/workflow.queue.js';
import { Cleanup, type CleanupResult } from './cleanup.js';

/**
 * The module option `cleanup: { every, ...options }`: worker processes keep one BullMQ job scheduler
 * on ChronoForge's queue in line with it (registered, updated, or removed when the option is
 * absent) and run {@link Cleanup.run} for each `cleanup` job it produces.
 */
@Injectable()
export class ScheduledCleanup {
  private readonly logger = new Logger(ScheduledCleanup.name);

  constructor(
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
    private readonly queue: WorkflowQueue,
    private readonly cleanup: Cleanup,
  ) {}

  /**
   * Registers, updates or removes the job scheduler (called at boot by worker processes); a
   * failure is logged, not thrown: the next worker boot tries again.
   */
  async schedule(): Promise<void> {
    const { cleanup } = this.options;
    try {
      await this.queue.scheduleCleanup(cleanup === false ? null : cleanup.everyMs);
    } catch (err) {
      this.logger.error(
        `Could not ${cleanup === false ? 'remove' : 'register'} the cleanup job scheduler: ${redactUrl((err as Error).message)}`,
      );
    }
  }

  /** Runs one scheduled cleanup; `null` when this process has no `cleanup` option (job dropped). */
  async process(): Promise<CleanupResult | null> {
    const { cleanup } = this.options;
    if (cleanup === false) {
      this.logger.warn(
        'Dropping a scheduled cleanup job: this worker has no `cleanup` option (its scheduler was registered by another process).',
      );
      return null;
    }
    return this.cleanup.run(cleanup.options);
  }
}
