import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The reason of `ctx.abortSignal` when the run was cancelled while a step body ran: the body may
 * stop early; whatever it returns is not recorded.
 *
 * @publicApi
 */
export class RunCancelledError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_RUN_CANCELLED';

  constructor(
    readonly runId: string,
    readonly reason: string | null,
  ) {
    super(`Run ${runId} was cancelled${reason ? `: ${reason}` : ''}.`);
  }
}
