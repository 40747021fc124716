import { ExecutionFailedError } from './execution-failed.error.js';

/**
 * A `waitUntil` condition or a `waitForSignal` wait passed its timeout. Like any exhausted step, it
 * leaves the run `stalled` unless the workflow catches it.
 *
 * @publicApi
 */
export class WaitConditionTimeoutError extends ExecutionFailedError {
  override readonly code: string = 'CHRONOFORGE_WAIT_TIMEOUT';

  constructor(stepName: string, attempts: number, timeoutAt: Date) {
    super(stepName, attempts);
    this.message = `Wait "${stepName}" was not satisfied by its timeout (${timeoutAt.toISOString()}).`;
  }
}
