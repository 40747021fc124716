import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Another worker holds the run's lock. The wake-up is not lost: it is recorded on the run and replayed by the lock holder when it releases.
 *
 * @publicApi
 */
export class ConcurrentExecutionError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_CONCURRENT_EXECUTION';
}
