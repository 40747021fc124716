import { sqlState } from '../database/transient-error.js';
import { TransactionAbortedError } from '../errors/transaction-aborted.error.js';

/**
 * SQLSTATE classes a deferred check of the body's own writes raises at COMMIT: data exception
 * (22), integrity constraint violation (23: a deferred foreign key or unique constraint), syntax
 * error or access rule violation (42) and PL/pgSQL errors (P0: a deferred constraint trigger).
 */
const DEFERRED_CHECK_CLASSES = new Set(['22', '23', '42', 'P0']);

/**
 * The failure of a transactional step's statements that the step's checkpoint or COMMIT reports,
 * or `undefined` when `err` is an infrastructure fault (connection loss, 08xxx, 57xxx, 40001,
 * 40P01, …), which stays the engine's: the checkpoint and the COMMIT run in the transaction the
 * body's statements ran in, so they also fail when those statements made the transaction fail.
 *
 * - `checkpoint`: 25P02 (in_failed_sql_transaction) — a statement of the body failed and the body
 *   went on — becomes a {@link TransactionAbortedError}. The engine issues nothing in that
 *   transaction before its checkpoint but `BEGIN`, so no statement of its own aborted it. Other
 *   codes are the checkpoint's own (its constraints are checked at once, never deferred).
 * - `commit`: a deferred check of the body's writes (classes 22, 23, 42, P0) is returned as is.
 */
export function stepStatementFailure(
  stepName: string,
  err: unknown,
  phase: 'checkpoint' | 'commit',
): unknown {
  const code = sqlState(err);
  if (code === undefined) return undefined;
  if (phase === 'checkpoint') {
    if (code !== '25P02') return undefined;
    return new TransactionAbortedError(
      `Step "${stepName}" returned after one of its statements failed: PostgreSQL aborted its transaction (25P02), so its writes were rolled back and its result was not recorded. Let the statement's error escape the step, or run the statement in a savepoint.`,
      { cause: err },
    );
  }
  return DEFERRED_CHECK_CLASSES.has(code.slice(0, 2)) ? err : undefined;
}

/**
 * The failure of a transactional step whose body returned with the transaction not as it began it
 * (a savepoint of its own left open by `queryRunner.startTransaction()`, or the transaction ended
 * by the body): committing would not commit its writes with its checkpoint. `undefined` when the
 * transaction is as the engine began it.
 */
export function unbalancedTransaction(
  stepName: string,
  balanced: boolean,
): TransactionAbortedError | undefined {
  if (balanced) return undefined;
  return new TransactionAbortedError(
    `Step "${stepName}" returned with its transaction not as the engine began it (a transaction or savepoint the body started and did not commit or roll back, or the step's own transaction ended by the body): its writes were rolled back and its result was not recorded. Use ctx.manager.transaction() for nested work.`,
  );
}
