import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * An attempt of a step ran longer than its `timeout`: it was abandoned (its `ctx.abortSignal`
 * fired) and counts as a failed attempt under the step's retry policy.
 *
 * @publicApi
 */
export class StepTimeoutError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_STEP_TIMEOUT';

  constructor(
    readonly stepName: string,
    readonly timeoutMs: number,
  ) {
    super(
      `An attempt of step "${stepName}" ran longer than its timeout of ${timeoutMs} ms and was abandoned.`,
    );
  }
}
