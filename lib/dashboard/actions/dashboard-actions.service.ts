import { Injectable } from '@nestjs/common';
import { WorkflowClient } from '../../client/workflow.client.js';
import type { CancelOptions } from '../../sagas/cancel-options.interface.js';
import { InvalidTransitionError } from '../../errors/invalid-transition.error.js';
import { WorkflowQueue } from '../../queue/workflow.queue.js';
import { type BulkFilter, RunListStore } from '../../inspection/run-list.store.js';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';

/** Largest number of runs one bulk retry moves. */
export const BULK_RETRY_LIMIT = 1000;
/** Largest number of runs one bulk cancel cancels (the oldest first). */
export const BULK_CANCEL_LIMIT = 1000;
/** The cancel reason a bulk cancel stores on each run. */
export const BULK_CANCEL_REASON = 'Bulk cancel from the dashboard';

/** What the dashboard's buttons do, by run id. */
@Injectable()
export class DashboardActions {
  constructor(
    private readonly store: RunListStore,
    private readonly client: WorkflowClient,
    private readonly queue: WorkflowQueue,
  ) {}

  async retry(id: string): Promise<void> {
    const run = await this.store.identify(id);
    await this.client.retry(run.key, { workflow: run.workflow });
  }

  async resume(id: string): Promise<void> {
    const run = await this.store.identify(id);
    await this.client.resume(run.key, { workflow: run.workflow });
  }

  /** Cancels the run with `options` (reason, compensate, children). */
  async cancel(id: string, options: Omit<CancelOptions, 'workflow'> = {}): Promise<void> {
    const run = await this.store.identify(id);
    await this.client.cancel(run.key, { ...options, workflow: run.workflow });
  }

  /**
   * Clears the lock of an `idle` or `running` run, makes it due now (a pass that still runs loses
   * its fence and can no longer write), and enqueues it.
   */
  async unlock(id: string): Promise<void> {
    const run = await this.store.identify(id);
    const [row] = await this.store.query<{ next_run_at: Date }>(
      `UPDATE ${this.store.table('workflows')} SET state = 'idle', locked_at = NULL, locked_by = NULL,
         next_run_at = now(), wake_pending = false, updated_at = now()
       WHERE id = $1 AND state IN ('idle', 'running') RETURNING next_run_at`,
      [id],
    );
    const nextRunAt = row?.next_run_at;
    if (!nextRunAt)
      throw new InvalidTransitionError(run.key, run.state, 'unlock', ['idle', 'running']);
    await this.queue.enqueueRun(id, nextRunAt);
  }

  /**
   * Retries the runs `filter` matches (failed or stalled ones), oldest first, up to
   * {@link BULK_RETRY_LIMIT}. A run that moved on meanwhile is skipped.
   */
  async bulkRetry(filter: BulkFilter): Promise<{ retried: number; skipped: number }> {
    const { workflow } = filter;
    let retried = 0;
    let skipped = 0;
    for (const run of await this.store.matching(filter, BULK_RETRY_LIMIT)) {
      try {
        await this.client.retry(run.key, { workflow });
        retried++;
      } catch (err) {
        if (!(err instanceof InvalidTransitionError)) throw err;
        skipped++; // moved on since it was listed
      }
    }
    return { retried, skipped };
  }

  /**
   * Cancels the runs `filter` matches, oldest first, up to {@link BULK_CANCEL_LIMIT}, each with
   * the reason {@link BULK_CANCEL_REASON} (no forced rollback, descendants left alone). A run that
   * ended or moved meanwhile is skipped.
   */
  async bulkCancel(filter: BulkFilter): Promise<{ cancelled: number; skipped: number }> {
    let cancelled = 0;
    let skipped = 0;
    const reason = BULK_CANCEL_REASON;
    for (const run of await this.store.matching(filter, BULK_CANCEL_LIMIT)) {
      try {
        await this.client.cancel(run.key, { workflow: filter.workflow, reason });
        cancelled++;
      } catch (err) {
        if (!(err instanceof InvalidTransitionError || err instanceof WorkflowNotFoundError))
          throw err;
        skipped++; // ended, rolled back or was deleted since it was listed
      }
    }
    return { cancelled, skipped };
  }
}
