import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A schedule's cron expression, time zone or timing option cannot be used.
 *
 * @publicApi
 */
export class InvalidCronError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INVALID_CRON';
}
