import type { WorkflowStore } from '../persistence/workflow.store.js';
import type { ChronoForgeClock } from '../util/clock.js';
import type { WorkflowQueue } from './workflow.queue.js';

/**
 * Enqueues the runs the store finds due for recovery (wake time over `graceMs` ago, or a stale
 * lock), at most `limit`: the recovery sweep's and the wake listener's catch-up step.
 */
export async function enqueueDueRuns(
  deps: { store: WorkflowStore; queue: WorkflowQueue; clock: ChronoForgeClock },
  graceMs: number,
  limit: number,
): Promise<void> {
  const due = await deps.store.findRecoverable(deps.clock.now(), graceMs, limit);
  await deps.queue.enqueueRecovered(due);
}
