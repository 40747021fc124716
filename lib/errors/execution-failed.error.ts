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
        (cause instanceof Error ? `: ${cause.message}` : '') +
        '. If this error leaves the workflow method the run is stalled: fix the cause, then ' +
        'client.retry(key) runs the step again with a fresh retry budget.',
      { cause },
    );
  }
}
