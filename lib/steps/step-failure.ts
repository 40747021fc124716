import { ExecutionFailedError } from '../errors/execution-failed.error.js';
import type { StepOptions } from '../options/workflow-options.interface.js';
import type { WorkflowStore } from '../persistence/workflow.store.js';
import type { RetryCounts, RetryStrategy } from '../retry/retry-policy.js';
import { resolveStepRetry } from '../retry/step-retry.js';
import type { RunScope } from '../run/run-scope.js';
import { recordFailedAttempt } from './failed-attempt.js';

/** Metadata a step log keeps between attempts. */
export interface StepMetadata {
  retry_counts?: RetryCounts;
  /** Attempts made before the last `client.retry()`: the policy counts only the ones after. */
  attempt_offset?: number;
  /** The step takes limits: writing its log frees its slots (a trigger, in the same statement). */
  limited?: true;
}

/** A failed attempt of step `stepName` (`err`), with the options its retry policy comes from. */
export interface StepFailure {
  scope: RunScope;
  stepName: string;
  attempts: number;
  metadata: StepMetadata;
  err: unknown;
  startedAt: Date;
  options: StepOptions;
}

/**
 * Records a failed attempt of a step: its retry policy (the step's, the workflow's, else
 * `defaultStepRetry`) decides a retry (the log stays `pending` and the pass halts until then) or
 * none (the log is `failed`); throws `ExecutionFailedError` either way.
 */
export async function failStep(
  store: WorkflowStore,
  defaultStepRetry: RetryStrategy,
  f: StepFailure,
): Promise<never> {
  const { scope, stepName, attempts, metadata, err } = f;
  const counts: RetryCounts = { ...(metadata.retry_counts ?? {}) };
  const policyAttempts = attempts - (metadata.attempt_offset ?? 0);
  const policy = resolveStepRetry(
    f.options.retry,
    'Step retry',
    scope.definition.retry,
    defaultStepRetry,
  );
  const decision = policy ? policy.decide(err, policyAttempts, counts) : null;
  const nextMeta: StepMetadata = { ...metadata };
  if (Object.keys(counts).length > 0) nextMeta.retry_counts = counts;
  await recordFailedAttempt(
    store,
    scope,
    stepName,
    attempts,
    decision ? 'pending' : 'failed',
    nextMeta as Record<string, unknown>,
    err,
    f.startedAt,
  );
  if (decision) scope.halt(scope.now() + decision.delayMs);
  throw new ExecutionFailedError(stepName, attempts, err);
}
