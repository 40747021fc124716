import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A `@Branch()` method was called inside another branch; branches cannot be nested.
 *
 * @publicApi
 */
export class NestedBranchError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_NESTED_BRANCH';
}
