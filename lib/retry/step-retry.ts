import { type RetryOption, type RetryStrategy, toRetryStrategy } from './retry-policy.js';

/**
 * The retry policy of a step or a repeat tick, in one place: its own `retry` → the workflow's
 * (`@Workflow({ retry })`) → the module's `defaultStepRetry` (itself defaulting to the step
 * preset, 3 attempts). `null` for `retry: []`: the step is never retried.
 */
export function resolveStepRetry(
  own: RetryStrategy | undefined,
  what: string,
  workflow: RetryStrategy | undefined,
  moduleDefault: RetryStrategy,
): RetryStrategy;
export function resolveStepRetry(
  own: RetryOption | undefined,
  what: string,
  workflow: RetryStrategy | undefined,
  moduleDefault: RetryStrategy,
): RetryStrategy | null;
export function resolveStepRetry(
  own: RetryOption | undefined,
  what: string,
  workflow: RetryStrategy | undefined,
  moduleDefault: RetryStrategy,
): RetryStrategy | null {
  if (Array.isArray(own) && own.length === 0) return null;
  return toRetryStrategy(own, what) ?? workflow ?? moduleDefault;
}
