import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A workflow input (or a signal payload, then `signal` names the signal) failed its DTO's
 * class-validator rules. Nothing was stored.
 *
 * @publicApi
 */
export class InputValidationError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INPUT_VALIDATION';

  constructor(
    readonly workflow: string,
    /** class-validator's constraint messages, flattened (nested properties use dotted paths). */
    readonly messages: string[],
    /** The signal whose payload was refused (`client.signal`), or `undefined` for an input. */
    readonly signal?: string,
  ) {
    const what = signal === undefined ? 'input' : `payload of signal "${signal}"`;
    super(`Invalid ${what} for workflow "${workflow}": ${messages.join('; ')}`);
  }
}
