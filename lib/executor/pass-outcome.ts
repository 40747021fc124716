import { ChronoForgeError } from '../errors/chrono-forge.error.js';
import { ExecutionFailedError } from '../errors/execution-failed.error.js';
import { HaltExecution } from '../run/halt-execution.js';
import type { RunScope } from '../run/run-scope.js';
import type { ReleaseSpec } from '../persistence/rows.js';
import { toErrorRecord } from '../run/error-record.js';

/** How the workflow method's part of a pass ended. */
export type Outcome =
  | { kind: 'complete'; value: unknown }
  | { kind: 'halt' }
  | { kind: 'fault' }
  | { kind: 'stall'; stepName: string }
  /** The pass diverged from the run's history (`NonDeterminismError`): stalled, no rollback. */
  | { kind: 'diverged'; error: Error }
  | { kind: 'error'; error: unknown; retryable: boolean };

/** First and largest delay between two tries of the statement that ends a pass. */
export const SETTLE_RETRY_MIN_MS = 100;
export const SETTLE_RETRY_MAX_MS = 2_000;

/** First and largest wait before the pass that follows a pass an engine statement failed in. */
export const FAULT_RETRY_MIN_MS = 1_000;
export const FAULT_RETRY_MAX_MS = 30_000;
/** Key of `retry_counts` counting consecutive faulted passes (reset by progress). */
export const FAULT_COUNT_KEY = '$engine_faults';

/** Wait before a worker that lacks a run's workflow definition lets another worker try. */
export const UNKNOWN_WORKFLOW_RETRY_MS = 60_000;

/** How a pass whose workflow method threw `err` ended. */
export function classifyError(scope: RunScope, err: unknown): Outcome {
  if (scope.halted || err instanceof HaltExecution) return { kind: 'halt' };
  // The step whose failure escaped stalled the run: `client.retry` re-runs it (and only it).
  if (err instanceof ExecutionFailedError) return { kind: 'stall', stepName: err.stepName };
  // Misuse of the API (bad names, unserializable values) cannot be fixed by retrying.
  return { kind: 'error', error: err, retryable: !(err instanceof ChronoForgeError) };
}

/**
 * The release of a pass that diverged from its run's history: stalled with the
 * `NonDeterminismError` recorded, its durable state and history left as they were.
 */
export function stalledBy(
  scope: RunScope,
  error: Error,
  attempt: number,
  retryCounts: Record<string, number>,
): ReleaseSpec {
  const record = toErrorRecord(error, scope.context);
  return { state: 'stalled', nextRunAt: null, attempt, retryCounts, context: null, error: record };
}

/**
 * The pass's divergence from its run's history: a call that did not match, or (for a pass whose
 * workflow method `completed`) recorded calls the code no longer makes.
 */
export function divergenceOf(scope: RunScope, completed: boolean): Error | undefined {
  return scope.divergence ?? (completed ? scope.history.unmade() : undefined);
}
