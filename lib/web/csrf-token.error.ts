import { ChronoForgeError } from '../errors/chrono-forge.error.js';

/**
 * A dashboard form was posted without a valid CSRF token (missing cookie, missing or forged
 * token, or a token of another process); the dashboard answers 403.
 *
 * @publicApi
 */
export class CsrfTokenError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_CSRF_TOKEN';
}
