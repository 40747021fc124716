import type { QueryRunner } from 'typeorm';
import { engineStatement } from '../database/engine-statement.js';
import { type SqlValue, sqlLiteral, type StepTransaction } from '../database/step-transaction.js';
import { sqlState } from '../database/transient-error.js';
import { type CheckpointArgs, type StateCarrier, unreadLogId } from './rows.js';
import type { ClaimedWrite } from './store-connection.js';

/**
 * SQL types of the parameters of a completed step's checkpoint (`$1`..`$8`): run id, owner, step
 * name, attempts, result, metadata, start time, the pass's durable state.
 */
const CHECKPOINT_TYPES = [
  'bigint',
  'text',
  'text',
  'int',
  'jsonb',
  'jsonb',
  'timestamptz',
  'jsonb',
];

/**
 * What recording and committing a transactional step's completion did: recorded (`id`), refused
 * (`id` null), or which of its statements failed (see `WorkflowStore.completeStepAndCommit`).
 */
export type StepCommit =
  { id: string | null } | { failed: 'checkpoint' | 'commit'; error: unknown };

/** What {@link commitStep} uses of the store. @internal */
export interface StepCommitStore {
  /** `StoreConnection.claimWrite`. */
  claimWrite(carrier: StateCarrier | undefined, runner: QueryRunner): Promise<ClaimedWrite>;
  /** The checkpoint alone, in the transaction's `runner` (`WorkflowStore.completeStep`). */
  checkpoint(args: CheckpointArgs, runner: QueryRunner): Promise<string | null>;
  /** `WorkflowStatements.checkedCompletedStep`. */
  checkedText(fresh: boolean, withState: boolean, literals?: readonly string[]): string;
  /** `WorkflowStatements.checkedFirstAttempt`. */
  firstAttemptText(literals?: readonly string[]): string;
  /** Whether statements may be prepared under a name (no transaction pooler). */
  readonly namedStatements: boolean;
}

/**
 * Records a transactional step's completion in its transaction `tx` and commits it (see
 * `WorkflowStore.completeStepAndCommit`): the checkpoint and `COMMIT` in one round trip on the
 * direct path, else one after the other. @internal
 */
export async function commitStep(
  store: StepCommitStore,
  args: CheckpointArgs,
  tx: StepTransaction,
): Promise<StepCommit> {
  if (!tx.direct) return checkpointThenCommit(store, args, tx);
  const { fresh, result } = args;
  const values: SqlValue[] = [args.workflowId, args.owner, args.stepName, args.attempts];
  values.push(result && JSON.stringify(result), JSON.stringify(args.metadata), args.startedAt);
  const write = await store.claimWrite(args.carrier, tx.runner);
  const withState = write.claim !== null;
  if (write.claim) values.push(JSON.stringify(write.claim.state));
  // A value a query string cannot carry (a NUL character): the statements one after the other.
  const literals = values.map((v, i) => sqlLiteral(v, CHECKPOINT_TYPES[i]));
  if (!literals.every((l) => l !== undefined)) {
    write.end(false);
    return checkpointThenCommit(store, args, tx);
  }
  // A first attempt whose log id nobody needs: a checkpoint that returns no row (a stand-in id).
  const rowless = fresh && !withState && args.anyId === true;
  const text = (literals?: readonly string[]) =>
    rowless ? store.firstAttemptText(literals) : store.checkedText(fresh, withState, literals);
  let id: string | null = null;
  try {
    const outcome = await tx.commitWith<{ id: string }>({
      text: text(),
      types: CHECKPOINT_TYPES,
      values,
      literals,
      // NOTE: a prepared statement's name outlives its server session only without a
      // transaction pooler (as for the named statements of `query`).
      inline: store.namedStatements ? undefined : text,
    });
    if ('failed' in outcome) {
      const code = sqlState(outcome.error);
      // Refused: it wrote no row (22012, see `checkedCompletedStep`), or a concurrent pass
      // wrote the first attempt's row first (23505).
      if (outcome.failed === 'checkpoint' && (code === '22012' || (fresh && code === '23505')))
        return { id: null };
      return outcome;
    }
    id = rowless ? unreadLogId() : (outcome.row?.id ?? null);
    return { id };
  } finally {
    write.end(id !== null);
  }
}

/** {@link commitStep} without the direct path: the checkpoint, then `COMMIT`. */
async function checkpointThenCommit(
  store: StepCommitStore,
  args: CheckpointArgs,
  tx: StepTransaction,
): Promise<StepCommit> {
  let id: string | null;
  try {
    id = await store.checkpoint(args, tx.runner);
  } catch (error) {
    return { failed: 'checkpoint', error };
  }
  if (id === null) return { id };
  try {
    await engineStatement(() => tx.commit());
  } catch (error) {
    return { failed: 'commit', error };
  }
  return { id };
}
