import type { Logger } from '@nestjs/common';
import type { RunEnded } from '../persistence/rows.js';
import type { WorkflowQueue } from './workflow.queue.js';

/**
 * Pushed fan-in: enqueues the parent a child's end woke (its wake time is stored by the same
 * statement; a lost enqueue is found by the recovery sweeper). A parent that was running wakes
 * through its own release (`wake_pending`). After every statement that ends a run: its
 * completion, failure, cancel, deadline cancel and the end of its rollback.
 */
export async function wakeParent(
  queue: WorkflowQueue,
  logger: Logger,
  ended: RunEnded,
): Promise<void> {
  const woken = ended.woken;
  if (woken?.state !== 'idle') return;
  try {
    await queue.wakeParent(woken.id, woken.nextRunAt);
  } catch (err) {
    logger.error(`Waking parent run ${woken.id} failed: ${(err as Error).message}`);
  }
}
