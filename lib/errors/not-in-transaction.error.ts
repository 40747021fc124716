import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * `ctx.manager` was read outside a transactional step (`@DurableStep({ transactional: true })` or
 * `ctx.transaction()`).
 *
 * @publicApi
 */
export class NotInTransactionError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_NOT_IN_TRANSACTION';
}
