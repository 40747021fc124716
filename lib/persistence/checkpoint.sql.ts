import type { WorkflowTables } from './tables.sql.js';

/** Writes parameter `n` (1-based) of a statement: `$n`, or a literal. */
export type StatementParam = (n: number) => string;

/** Parameters as placeholders (`$n`). */
export const dollar: StatementParam = (n) => `$${n}`;

/**
 * The column of {@link CheckpointStatements.checkedCompletedStep} whose division by zero marks a
 * refused checkpoint.
 */
export const REFUSED_CHECKPOINT_COLUMN = 'cf_fenced';

/**
 * SQL condition: the pass (parameter 2) still owns run (parameter 1).
 * NOTE: the fence takes a share lock on the run's row: a takeover (an UPDATE of locked_by) waits
 * for a write in flight, and a write that comes after a takeover re-reads the row and finds it
 * moved. A plain EXISTS read would let a stale pass's write commit just after a takeover.
 */
export const fence = (wf: string, p: StatementParam): string =>
  `EXISTS (SELECT 1 FROM ${wf} WHERE id = ${p(1)} AND locked_by = ${p(2)} FOR SHARE)`;

/** The same fence that also writes the pass's durable state (`param`) with the checkpoint. */
export const stateFenceWith = (wf: string, p: StatementParam, param: string): string =>
  `f AS (UPDATE ${wf} SET context = ${param}::jsonb WHERE id = ${p(1)} AND locked_by = ${p(2)} RETURNING id)`;

/**
 * The statements recording a completed step (`$1`..`$7`: run, owner, step, attempts, result,
 * metadata, started; `$8`: the pass's durable state, when it carries some).
 */
export class CheckpointStatements {
  readonly insertCompletedStep: string;
  /**
   * {@link insertCompletedStep} without `RETURNING`: its outcome is the count of rows it wrote (one,
   * or none when fenced out). A pass that needs no log id sends it (a row fewer to describe, send
   * and parse; ~5 % of the statement, issue #22).
   */
  readonly insertCompletedStepCounted: string;
  readonly upsertCompletedStep: string;
  /** The same two, also writing the pass's durable state (`$8`) in the fence. */
  readonly insertCompletedStepWithState: string;
  readonly upsertCompletedStepWithState: string;

  /**
   * The statement recording a completed step that a transactional step sends with its `COMMIT`:
   * the checkpoint of `completedStep`, returning one row (`id`) when it wrote, and failing with
   * 22012 (division by zero) when it is refused, so a `COMMIT` after it in the same query string
   * never runs. With `values` (SQL literals of `$1`..`$8`), the text with those in place of its
   * parameters; without, the text with its parameters (for a prepared statement).
   */
  readonly checkedCompletedStep: (
    fresh: boolean,
    withState: boolean,
    values?: readonly string[],
  ) => string;

  /**
   * {@link checkedCompletedStep} for a first attempt with no durable state, when the pass needs no
   * log id: a plain INSERT that returns no row. Refused, it fails with 22012 all the same (its
   * WHERE divides by the lock fence's outcome), or with 23505 when the step is recorded already.
   * ~30 µs cheaper than the CTE, its two sub-selects and its row (issue #22).
   */
  readonly checkedFirstAttempt: (values?: readonly string[]) => string;

  /** The statement recording a completed step: a first attempt's INSERT or an upsert. */
  completedStep(fresh: boolean, withState: boolean): string {
    if (fresh) return withState ? this.insertCompletedStepWithState : this.insertCompletedStep;
    return withState ? this.upsertCompletedStepWithState : this.upsertCompletedStep;
  }

  constructor(t: WorkflowTables) {
    const { wf, logs } = t;
    const stateFence = (param: string) => stateFenceWith(wf, dollar, param);
    // The INSERT of a completed step's log (`$1`..`$7`, see `completeStep`), fenced by the lock or
    // by the state write `f`, and its upsert for a step that has a log already (a retried attempt).
    const insertCompletedWith = (p: StatementParam, withState: boolean) => `
       INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at,
         last_executed_at, completed_at, result, metadata)
       SELECT ${p(1)}, ${p(3)}, 'completed', ${p(4)}, ${p(7)}, now(), now(), ${p(5)}, ${p(6)} ${withState ? 'FROM f' : `WHERE ${fence(wf, p)}`}`;
    const upsertCompletedWith = (
      p: StatementParam,
      withState: boolean,
    ) => `${insertCompletedWith(p, withState)}
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = EXCLUDED.attempts,
         last_executed_at = now(), completed_at = now(), result = EXCLUDED.result,
         metadata = EXCLUDED.metadata, updated_at = now()
       WHERE l.state <> 'completed'
       RETURNING id`;
    const completedWith = (p: StatementParam, fresh: boolean, withState: boolean) =>
      fresh
        ? `${insertCompletedWith(p, withState)} RETURNING id`
        : upsertCompletedWith(p, withState);
    const completed = (fresh: boolean, withState: boolean) =>
      `${withState ? `WITH ${stateFence('$8')} ` : ''}${completedWith(dollar, fresh, withState)}`;
    this.insertCompletedStep = completed(true, false);
    this.insertCompletedStepCounted = insertCompletedWith(dollar, false);
    this.insertCompletedStepWithState = completed(true, true);
    this.upsertCompletedStep = completed(false, false);
    this.upsertCompletedStepWithState = completed(false, true);
    // NOTE: sent with `COMMIT` in one simple-protocol query string, as a prepared statement's
    // EXECUTE or with literals in place of its parameters. A refused checkpoint (lock lost, or a
    // completed log already there) must stop the COMMIT after it, so the statement fails when it
    // wrote no row: a division by the count of written rows, which the planner cannot fold (a
    // sub-select over a data-modifying CTE runs at execution time).
    const checked = (fresh: boolean, withState: boolean, p: StatementParam) => {
      const state = withState ? `${stateFenceWith(wf, p, p(8))}, ` : '';
      return `WITH ${state}c AS (${completedWith(p, fresh, withState)})
       SELECT (SELECT id FROM c) AS id, 1 / (SELECT count(*)::int FROM c) AS ${REFUSED_CHECKPOINT_COLUMN}`;
    };
    // NOTE: the fence is an uncorrelated sub-select, an InitPlan run when the INSERT executes (as
    // the WHERE EXISTS of the others), so no plan, custom or generic, can fold the division; it
    // divides a constant, never a parameter (a NULL parameter would fold the division away).
    const firstAttempt = (p: StatementParam) => `
       INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at,
         last_executed_at, completed_at, result, metadata)
       SELECT ${p(1)}, ${p(3)}, 'completed', ${p(4)}, ${p(7)}, now(), now(), ${p(5)}, ${p(6)}
       WHERE 1 / (${fence(wf, p)})::int = 1`;
    const preparedFirstAttempt = firstAttempt(dollar);
    this.checkedFirstAttempt = (values) =>
      values ? firstAttempt((n) => values[n - 1]) : preparedFirstAttempt;
    const prepared = [
      [checked(false, false, dollar), checked(false, true, dollar)],
      [checked(true, false, dollar), checked(true, true, dollar)],
    ];
    this.checkedCompletedStep = (fresh, withState, values) =>
      values
        ? checked(fresh, withState, (n) => values[n - 1])
        : prepared[Number(fresh)][Number(withState)];
  }
}
