import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A value (step result, input, durable state) cannot be stored as JSON.
 *
 * @publicApi
 */
export class SerializationError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_SERIALIZATION';
}
