import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A spawned child's key is already taken by a run that another parent spawned (or that was started
 * on its own), e.g. a parent run deleted by Cleanup whose children survived, started again with the
 * same key. The branch stops there rather than merging without that child.
 *
 * @publicApi
 */
export class ChildKeyConflictError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_CHILD_KEY_CONFLICT';
}
