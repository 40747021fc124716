import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A durable state value is not JSON or exceeds the 16 KB limit.
 *
 * @publicApi
 */
export class StateValueError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_STATE_VALUE';
}
