import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * `ctx.merge()` named a branch that was not opened in this run.
 *
 * @publicApi
 */
export class UnknownBranchError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_UNKNOWN_BRANCH';
}
