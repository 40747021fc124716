import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A transactional step (`@DurableStep({ transactional: true })`, `ctx.transaction()`) returned
 * after one of its own statements failed (the body caught the error): PostgreSQL aborted the
 * step's transaction, so its writes were rolled back and its result could not be recorded
 * (SQLSTATE 25P02 on the checkpoint, which is `cause`). It is the step's failure, like any error
 * of its body: the step's retry policy decides whether it runs again. Let the statement's error
 * escape the body, or run the statement in a savepoint (`ctx.manager.transaction(…)` nests one).
 *
 * @publicApi
 */
export class TransactionAbortedError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_TRANSACTION_ABORTED';
}
