import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * The database or the queue was used before the module initialized it (its `onModuleInit` has not
 * run): use them from `onApplicationBootstrap` on, or after `await app.init()`.
 *
 * @publicApi
 */
export class NotInitializedError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_NOT_INITIALIZED';
}
