import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The queue's Redis server did not answer at boot (unreachable, or it refused the credentials).
 * The message names the server (credentials redacted) and its last connection error.
 *
 * @publicApi
 */
export class QueueUnavailableError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_QUEUE_UNAVAILABLE';
}
