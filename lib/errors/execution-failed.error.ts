import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A durable step exhausted its retry policy. When it escapes the workflow method the run becomes
 * `stalled`; `WorkflowClient.retry(key)` gives the step a fresh budget.
 *
 * @publicApi
 */
export class ExecutionFailedError extends ChronoForgeError {
  readonly code: string = 'CHRONOFORGE_EXECUTION_FAILED';

  constructor(
    readonly stepName: string,
    readonly attempts: number,
    cause?: unknown,
  ) {
    super(
      `Step "${stepName}" failed after ${attempts} attempt(s)` +
        (cause instanceof Error ? `: ${cause.message}` : ''),
      { cause },
    );
  }
}
