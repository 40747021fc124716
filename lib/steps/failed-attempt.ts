import type { WorkflowStore } from '../persistence/workflow.store.js';
import { toErrorRecord } from '../run/error-record.js';
import { type RunScope } from '../run/run-scope.js';
import { LockLostError } from '../errors/lock-lost.error.js';

/**
 * Records a failed attempt of step `stepName` (its log, now `pending` for a retry or `failed`, and
 * one error-log row) and mirrors the log in the pass's scope. Throws `LockLostError` when the pass
 * no longer owns the run.
 */
export async function recordFailedAttempt(
  store: WorkflowStore,
  scope: RunScope,
  stepName: string,
  attempts: number,
  state: 'pending' | 'failed',
  metadata: Record<string, unknown>,
  err: unknown,
  startedAt: Date,
): Promise<void> {
  const id = await store.failStepAttempt(
    scope.run.id,
    scope.owner,
    stepName,
    attempts,
    state,
    metadata,
    toErrorRecord(err, scope.context),
    startedAt,
  );
  if (id === null) throw new LockLostError(scope.run.id);
  scope.logs.set(stepName, { id, step_name: stepName, state, attempts, result: null, metadata });
}
