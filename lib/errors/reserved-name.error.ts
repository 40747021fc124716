import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A workflow, step or signal name uses the reserved `$` delimiter, or is otherwise not a valid name.
 *
 * @publicApi
 */
export class ReservedNameError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_RESERVED_NAME';
}
