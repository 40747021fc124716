import { Injectable } from '@nestjs/common';
import { COMPENSATION_PREFIX } from '../lifecycle/compensations.js';
import { ON_CANCEL_STEP } from '../lifecycle/on-cancel.js';
import type { CompensateOn } from '../options/workflow-options.interface.js';
import { parentWakeCtes, WOKEN_COLUMNS } from '../persistence/parent-wake.sql.js';
import { type EndRow, type ErrorRecord, ended, type RunEnded } from '../persistence/rows.js';
import { WorkflowStore } from '../persistence/workflow.store.js';

const json = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

/**
 * Statements of rollbacks. Those a pass makes are fenced like every write of a pass: they apply
 * only while `locked_by` is the pass's owner (`$2`), and the ones that end the pass release the
 * lock in the same statement.
 */
@Injectable()
export class SagaStore {
  constructor(private readonly store: WorkflowStore) {}

  /**
   * Ends a failing pass by starting the run's rollback: state `compensating`, due now, `cause`
   * recorded, and (for a workflow-level failure) the error-log row; a deadline that cancels also
   * records `cancelReason`. `compensate` false: a rollback that only runs the `@OnCancel()` cleanup. Returns the stored wake time, or `undefined` when the lock was lost.
   */
  async beginRollback(
    id: string,
    owner: string,
    cause: CompensateOn,
    attempt: number,
    error: ErrorRecord | null,
    context: Record<string, unknown> | null,
    cancelReason: string | null = null,
    compensate = true,
  ): Promise<{ nextRunAt: Date } | undefined> {
    const rows = await this.store.query<{ next_run_at: Date }>(
      `WITH w AS (
         UPDATE ${this.store.wf} SET state = 'compensating', next_run_at = now(), wake_pending = false,
           locked_at = NULL, locked_by = NULL, attempt = $4, context = COALESCE($5::jsonb, context),
           compensation = jsonb_build_object('cause', $3::text)
             || CASE WHEN $11::boolean THEN '{}'::jsonb ELSE '{"compensate": false}'::jsonb END,
           updated_at = now(),
           cancel_reason = COALESCE($10, cancel_reason)
         WHERE id = $1 AND locked_by = $2 RETURNING id, next_run_at),
       e AS (
         INSERT INTO ${this.store.errors} (workflow_id, step_name, attempt, error_class, error_message, backtrace, context)
         SELECT w.id, NULL, $4, $6, $7, $8, $9 FROM w WHERE $6::text IS NOT NULL)
       SELECT next_run_at FROM w`,
      [
        id,
        owner,
        cause,
        attempt,
        json(context),
        error?.errorClass ?? null,
        error?.message ?? null,
        error?.backtrace ?? null,
        json(error?.context ?? null),
        cancelReason,
        compensate,
      ],
    );
    return rows[0] ? { nextRunAt: rows[0].next_run_at } : undefined;
  }

  /**
   * Ends a pass by cancelling its run (a deadline), waking the parent it was the last pending
   * child of: `false` when the lock was lost.
   */
  async cancelRun(id: string, owner: string, reason: string): Promise<RunEnded | false> {
    const { wf, logs } = this.store;
    const rows = await this.store.query<EndRow>(
      `WITH w AS (UPDATE ${wf} SET state = 'cancelled', cancel_reason = $3, finished_at = now(),
         next_run_at = NULL, wake_pending = false, locked_at = NULL, locked_by = NULL, updated_at = now()
       WHERE id = $1 AND locked_by = $2 RETURNING id, parent_execution_log_id),
       ${parentWakeCtes(wf, logs)}
       SELECT w.id::text AS id, ${WOKEN_COLUMNS} FROM w LEFT JOIN k ON true`,
      [id, owner, reason],
    );
    return ended(rows);
  }

  /**
   * Begins the rollback of the completed children of run `id` that never rolled back (their
   * `compensation` is unset), of the branches started after step `afterStep` completed (`null`:
   * every branch): each becomes `compensating` (cause `byParent`), due now. Fenced by the parent's
   * lock (`owner`). Returns the children it moved, to wake them.
   */
  async rollBackChildren(
    id: string,
    owner: string,
    afterStep: string | null,
  ): Promise<{ id: string; nextRunAt: Date }[]> {
    const { logs, wf } = this.store;
    return this.store.query<{ id: string; nextRunAt: Date }>(
      `UPDATE ${wf} c SET state = 'compensating', next_run_at = now(), finished_at = NULL,
         compensation = jsonb_build_object('cause', 'byParent'), wake_pending = false, updated_at = now()
       FROM ${logs} b
       WHERE b.workflow_id = $1 AND c.parent_execution_log_id = b.id AND c.state = 'completed'
         AND c.compensation IS NULL AND ${this.store.fenced()}
         AND ($3::text IS NULL OR COALESCE(b.started_at, b.created_at) > (SELECT s.completed_at
           FROM ${logs} s WHERE s.workflow_id = $1 AND s.step_name = $3))
       RETURNING c.id::text AS id, c.next_run_at AS "nextRunAt"`,
      [id, owner, afterStep],
    );
  }

  /**
   * The completed steps among `stepNames`, last completed first (the order of a rollback), each
   * with whether it waits for children (a branch of run `id` started after it completed has
   * children that still have to roll back: `compensating`, or completed and never rolled back),
   * and whether any child still has to. Compared in PostgreSQL, at its microsecond precision.
   */
  async rollbackOrder(
    id: string,
    stepNames: string[],
  ): Promise<{ steps: { name: string; waits: boolean }[]; childrenPending: boolean }> {
    const { logs, wf } = this.store;
    const rows = await this.store.query<{ step_name: string | null; waits: boolean }>(
      `WITH kids AS (SELECT COALESCE(b.started_at, b.created_at) AS at FROM ${logs} b
         WHERE b.workflow_id = $1 AND EXISTS (SELECT 1 FROM ${wf} c
           WHERE c.parent_execution_log_id = b.id AND (c.state = 'compensating'
             OR (c.state = 'completed' AND c.compensation IS NULL))))
       (SELECT l.step_name, EXISTS (SELECT 1 FROM kids WHERE kids.at > l.completed_at) AS waits
        FROM ${logs} l
        WHERE l.workflow_id = $1 AND l.step_name = ANY($2::text[]) AND l.state = 'completed'
        ORDER BY l.completed_at DESC, l.id DESC)
       UNION ALL
       SELECT NULL, EXISTS (SELECT 1 FROM kids)`,
      [id, stepNames],
    );
    return {
      steps: rows
        .filter((r) => r.step_name !== null)
        .map((r) => ({ name: r.step_name as string, waits: r.waits })),
      childrenPending: rows.find((r) => r.step_name === null)?.waits ?? false,
    };
  }

  /**
   * Ends a rollback and releases the lock: `failed` when a compensation failed (listed with its
   * error) or a child's rollback did (listed as `child <key>`), else `compensated`, or — nothing to compensate — the state the rollback replaced
   * (`cancelled`; `completed` for a child its parent's rollback moved; `failed` otherwise).
   * Its end wakes the parent it was the last pending child of (pushed fan-in). Returns the final
   * state and the woken parent, or `undefined` when the lock was lost.
   */
  async endRollback(
    id: string,
    owner: string,
    failed: string[],
    compensated: string[],
    context: Record<string, unknown> | null,
  ): Promise<{ state: string; ended: RunEnded } | undefined> {
    const { wf, logs } = this.store;
    // Children whose own rollback (begun by this run's, or by the cancel that began it) failed.
    const kids = `SELECT c.key, c.job_name FROM ${logs} b JOIN ${wf} c ON c.parent_execution_log_id = b.id
       WHERE b.workflow_id = $1 AND c.state = 'failed' AND c.compensation->>'cause' IN ('byParent', 'cancelled')
         AND jsonb_array_length(COALESCE(c.compensation->'failures', '[]'::jsonb)) > 0`;
    const rows = await this.store.query<EndRow & { state: string }>(
      `WITH w AS (UPDATE ${wf} SET state = CASE WHEN cardinality($3::text[]) > 0 OR EXISTS (${kids}) THEN 'failed'
           WHEN cardinality($4::text[]) > 0 THEN 'compensated'
           WHEN compensation->>'cause' = 'cancelled' THEN 'cancelled'
           WHEN compensation->>'cause' = 'byParent' THEN 'completed' ELSE 'failed' END,
         finished_at = now(), next_run_at = NULL, wake_pending = false, locked_at = NULL,
         locked_by = NULL, context = COALESCE($5::jsonb, context), updated_at = now(),
         compensation = COALESCE(compensation, '{}'::jsonb) || jsonb_build_object(
           'compensated', to_jsonb($4::text[]),
           'failures', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'step', CASE WHEN starts_with(l.step_name, '${COMPENSATION_PREFIX}')
                 THEN substr(l.step_name, ${COMPENSATION_PREFIX.length + 1}) ELSE l.step_name END,
               'compensation', l.step_name,
               'errorClass', l.error_class, 'message', l.error_message) ORDER BY l.updated_at, l.id), '[]'::jsonb)
             FROM ${logs} l WHERE l.workflow_id = $1 AND l.step_name = ANY($3::text[]))
           || (SELECT COALESCE(jsonb_agg(jsonb_build_object('step', 'child ' || k.key,
               'compensation', k.key, 'errorClass', 'ChildRollbackFailed',
               'message', 'child run "' || k.key || '" (' || k.job_name
                 || ') failed to roll back: see its compensation failures') ORDER BY k.key), '[]'::jsonb)
             FROM (${kids}) k))
       WHERE id = $1 AND locked_by = $2 RETURNING id, parent_execution_log_id, state),
       ${parentWakeCtes(wf, logs)}
       SELECT w.id::text AS id, w.state, ${WOKEN_COLUMNS} FROM w LEFT JOIN k ON true`,
      [id, owner, failed, compensated, json(context)],
    );
    const done = ended(rows);
    return done === false ? undefined : { state: rows[0].state, ended: done };
  }

  /**
   * `client.compensate()`: moves a run in one of `from` to `compensating`, due now, giving its
   * failed compensations a fresh retry budget. Returns the wake time, or `null` when the run was
   * not in one of those states.
   */
  async compensate(id: string, from: string[]): Promise<Date | null> {
    const rows = await this.store.query<{ next_run_at: Date }>(
      `WITH w AS (
         UPDATE ${this.store.wf} SET state = 'compensating', next_run_at = now(), finished_at = NULL,
           wake_pending = false, locked_at = NULL, locked_by = NULL, updated_at = now(),
           compensation = jsonb_build_object('cause', COALESCE(compensation->>'cause', state))
         WHERE id = $1 AND state = ANY($2::text[]) RETURNING id, next_run_at),
       l AS (
         UPDATE ${this.store.logs} SET state = 'pending', updated_at = now(),
           metadata = metadata || jsonb_build_object('attempt_offset', attempts, 'retry_counts', '{}'::jsonb)
         WHERE workflow_id IN (SELECT id FROM w) AND state = 'failed'
           AND (starts_with(step_name, $3) OR step_name = $4))
       SELECT next_run_at FROM w`,
      [id, from, COMPENSATION_PREFIX, ON_CANCEL_STEP],
    );
    return rows[0]?.next_run_at ?? null;
  }
}
