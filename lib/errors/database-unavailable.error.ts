import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * ChronoForge's PostgreSQL database could not be reached at boot (refused, timed out, or it
 * refused the credentials). The message names the server (credentials redacted), the driver's
 * error and what to check; `cause` carries the driver's error.
 *
 * @publicApi
 */
export class DatabaseUnavailableError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_DATABASE_UNAVAILABLE';
}
