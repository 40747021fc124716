import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Another worker holds the run's lock. The wake-up is not lost: it is recorded on the run and replayed by the lock holder when it releases.
 *
 * @deprecated Never thrown: a pass that finds the run locked leaves the wake-up to the lock holder
 * (or, for a stale lock, takes the run over) without raising anything. Kept so code that imports
 * it still compiles; it will be removed in a future major version.
 * @publicApi
 */
export class ConcurrentExecutionError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_CONCURRENT_EXECUTION';
}
