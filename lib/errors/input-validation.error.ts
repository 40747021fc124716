import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A workflow input failed its DTO's class-validator rules. Nothing was stored.
 *
 * @publicApi
 */
export class InputValidationError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INPUT_VALIDATION';

  constructor(
    readonly workflow: string,
    /** class-validator's constraint messages, flattened (nested properties use dotted paths). */
    readonly messages: string[],
  ) {
    super(`Invalid input for workflow "${workflow}": ${messages.join('; ')}`);
  }
}
