import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The queue's server did not answer at boot: Redis (unreachable, or it refused the credentials),
 * or the PostgreSQL server of `queue: { postgres }`. The message names the server (credentials
 * redacted), its last connection error and what to check.
 *
 * @publicApi
 */
export class QueueUnavailableError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_QUEUE_UNAVAILABLE';
}
