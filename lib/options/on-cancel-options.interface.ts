import type { RetryOption } from '../retry/retry-policy.js';
import type { Duration } from '../util/duration.util.js';

/**
 * Options of `@OnCancel()`.
 *
 * @publicApi
 */
export interface OnCancelOptions {
  /**
   * The workflows of the same provider the method cleans up after, by name (a provider with one
   * workflow need not say). Each workflow has at most one `@OnCancel()` method.
   * @default every workflow of the provider
   */
  workflow?: string | string[];
  /** Retry policy of the cleanup step. @default workflow retry → module defaultStepRetry */
  retry?: RetryOption;
  /** Abandon an attempt running longer (its `ctx.abortSignal` fires); a failed attempt. */
  timeout?: Duration;
}

/**
 * What an `@OnCancel()` method receives after the workflow's input.
 *
 * @publicApi
 */
export interface CancelInfo {
  /** The cancel's reason (`client.cancel(key, { reason })`, or the deadline's), if any. */
  reason: string | null;
  /**
   * Whether a compensation of the run's steps ran before the cleanup (completed, or exhausted its
   * retries). `false` when the run did not roll back, and when it rolled back with nothing to
   * compensate (no completed step with a `compensate` had run): its state was left as it was.
   */
  compensated: boolean;
}
