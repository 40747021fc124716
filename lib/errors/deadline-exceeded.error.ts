import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The run passed its deadline (`@Workflow({ timeout })`, `start(…, { timeout })`, or its parent's)
 * with `onTimeout: 'fail'`; also the reason of `ctx.abortSignal` when a deadline passes while a
 * step body runs.
 *
 * @publicApi
 */
export class DeadlineExceededError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_DEADLINE_EXCEEDED';

  constructor(
    readonly runId: string,
    readonly deadline: Date,
  ) {
    super(`Run ${runId} passed its deadline of ${deadline.toISOString()}.`);
  }
}
