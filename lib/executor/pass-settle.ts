import type { Logger } from '@nestjs/common';
import { LockLostError } from '../errors/lock-lost.error.js';
import type { WorkflowStore } from '../persistence/workflow.store.js';
import type { WorkflowQueue } from '../queue/workflow.queue.js';
import type { RunScope } from '../run/run-scope.js';
import { SETTLE_RETRY_MAX_MS, SETTLE_RETRY_MIN_MS } from './pass-outcome.js';

/** What ending a pass uses of the executor. */
export interface PassSettleEnv {
  readonly store: WorkflowStore;
  readonly queue: WorkflowQueue;
  readonly logger: Logger;
  /** Whether the worker drains (read at each try). */
  draining(): boolean;
}

/**
 * Runs the statement that ends a pass until it goes through (with backoff: one failed statement
 * must not leave the run locked by this live worker), until the lock is no longer its own, the
 * worker drains, or `maxDuration` passed. When an earlier try may have committed and a later one
 * finds the lock gone, the run's stored wake-up is enqueued (a spare job is harmless).
 */
export async function settlePass<T>(
  scope: RunScope,
  write: () => Promise<T>,
  env: PassSettleEnv,
): Promise<T> {
  const { run } = scope;
  let deadline: number | undefined;
  let delay = SETTLE_RETRY_MIN_MS;
  for (let failures = 0; ; failures++) {
    try {
      const result = await write();
      if (failures > 0 && !result) await requeueIfReleased(run.id, env);
      return result;
    } catch (err) {
      // NOTE: Number(): a bigint column comes back from pg as a string.
      deadline ??= Date.now() + Number(run.max_duration_ms);
      if (err instanceof LockLostError || env.draining() || Date.now() + delay > deadline)
        throw err;
      env.logger.warn(
        `Ending a pass of run ${run.id} failed (${(err as Error).message}); retrying in ${delay} ms`,
      );
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, SETTLE_RETRY_MAX_MS);
    }
  }
}

/** Enqueues the stored wake-up of run `id` if it is idle (after an ambiguous release). */
async function requeueIfReleased(id: string, env: PassSettleEnv): Promise<void> {
  const run = await env.store.findWake(id).catch(() => null);
  if (run?.state === 'idle' && run.next_run_at) await env.queue.enqueueRun(id, run.next_run_at);
}

/**
 * Runs the pass's after-release actions (e.g. a merge poller's enqueue), then enqueues its
 * continuation. Each is independent: one that throws is logged and the others still run.
 */
export async function afterPassRelease(
  scope: RunScope,
  jobId: string,
  nextRunAt: Date | null,
  env: PassSettleEnv,
): Promise<void> {
  const actions = [...scope.afterRelease];
  if (nextRunAt) actions.push(() => env.queue.enqueueRun(scope.run.id, nextRunAt, jobId));
  for (const action of actions) {
    try {
      await action();
    } catch (err) {
      env.logger.error(
        `An after-release action of run ${scope.run.id} failed: ${(err as Error).message}`,
      );
    }
  }
}
