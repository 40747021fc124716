import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * Module, decorator or call options failed validation.
 *
 * @publicApi
 */
export class InvalidOptionsError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INVALID_OPTIONS';
}
