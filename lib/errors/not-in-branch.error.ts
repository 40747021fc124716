import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * `ctx.spawn()` or `ctx.spawnEach()` was called outside a `@Branch()` method.
 *
 * @publicApi
 */
export class NotInBranchError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_NOT_IN_BRANCH';
}
