/**
 * Options of `WorkflowClient.cancel()`.
 *
 * @publicApi
 */
export interface CancelOptions {
  /** Workflow name, needed when several workflows use the same key. */
  workflow?: string;
  /** Why: stored with the run and shown by `get()` and the dashboard (at most 1000 characters). */
  reason?: string;
  /**
   * Roll the cancelled runs back (the compensations of their completed steps run, and each ends
   * `compensated`, or `failed` when a compensation fails). @default each run's workflow decides:
   * its `compensateOn` lists `'cancelled'`
   */
  compensate?: boolean;
  /**
   * Also cancel every descendant: the children its branches spawned, theirs, and so on, in the
   * same statement. @default false
   */
  children?: boolean;
}
