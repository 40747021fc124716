import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Raised by `ctx.merge()` when a child of a merged branch was cancelled: a cancelled run never
 * completes, so the merge cannot. Uncaught, it fails the parent at once; caught, the branches count
 * as merged and the workflow goes on (every replay of that merge raises it again).
 *
 * @publicApi
 */
export class CancelledChildError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_CANCELLED_CHILD';

  constructor(
    message: string,
    /** Keys of the cancelled children (at most 10). */
    readonly childKeys: string[],
  ) {
    super(message);
  }
}
