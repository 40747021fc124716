import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A replay of a run called a durable call that does not match the call its history records at
 * the same position (the workflow's code changed while the run was in flight: a call was added,
 * removed, renamed or moved). The run is stalled, never executed against the wrong history. Fix it
 * by putting the change behind `ctx.patched(id)` (runs recorded before the change skip it), or by
 * reverting the change and calling `client.retry(key)`.
 *
 * @publicApi
 */
export class NonDeterminismError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_NON_DETERMINISM';

  constructor(
    message: string,
    /** 0-based position of the call in the run's history. */
    readonly position: number,
    /** The call the history records at that position (its step name, e.g. `step$charge`). */
    readonly recorded: string | null,
    /** The call the current code made there (`null`: the code completed without making one). */
    readonly called: string | null,
  ) {
    super(message);
  }
}
