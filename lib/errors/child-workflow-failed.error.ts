import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Raised by `ctx.call()` (and a child handle's `result()`) when the child run failed, was
 * cancelled or failed and rolled back (`compensated`), by `ctx.merge(…, { mode: 'failFast' })` at
 * the first child of the merged branches that did, and by a merge without `mode` at the first
 * child that rolled back (it never completes). Carries the child's key, its state and its error.
 * Replays raise it again (the outcome is recorded); caught, the workflow goes on.
 *
 * @publicApi
 */
export class ChildWorkflowFailedError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_CHILD_WORKFLOW_FAILED';

  constructor(
    message: string,
    /** The child run's key. */
    readonly childKey: string,
    /** The child run's state: `failed`, `cancelled` or `compensated`. */
    readonly childState: string,
    /** The child's last error (class and message), or its cancel reason. */
    readonly childError: { errorClass: string | null; message: string | null },
  ) {
    super(message);
  }
}
