import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * `WorkflowHandle.result()` gave up waiting before the run reached a terminal state.
 *
 * @publicApi
 */
export class ResultTimeoutError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_RESULT_TIMEOUT';
}
