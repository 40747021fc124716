import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * An `@OnCancel()` declaration is invalid (thrown at bootstrap): two for one workflow, a workflow
 * name that is not a workflow of the provider, a method that is also a workflow or a durable
 * method, or invalid options.
 *
 * @publicApi
 */
export class InvalidOnCancelError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INVALID_ON_CANCEL';
}
