import { Injectable } from '@nestjs/common';
import { parentWakeCtes, WOKEN_COLUMNS } from '../persistence/parent-wake.sql.js';
import type { EndRow, RunEnded } from '../persistence/rows.js';
import { WorkflowStore } from '../persistence/workflow.store.js';

/** Which cancelled runs roll back instead of ending `cancelled`. */
export interface CancelRollback {
  /** Every run. */
  all: boolean;
  /** Otherwise, the runs of these workflows. */
  workflows: string[];
  /**
   * Runs of these workflows (those with an `@OnCancel()` cleanup) that do not roll back begin a
   * rollback that only runs the cleanup (`compensation.compensate` false).
   */
  cleanups: string[];
}

/** A run a cancel moved: to `cancelled`, or to `compensating` (due at `nextRunAt`). */
export interface CancelledRun {
  id: string;
  state: 'cancelled' | 'compensating';
  nextRunAt: Date | null;
  /** The parent run `id`'s cancel woke (its last pending child ended): enqueue it when idle. */
  woken: RunEnded['woken'];
}

/** The statement of `client.cancel()`. */
@Injectable()
export class CancelStore {
  constructor(private readonly store: WorkflowStore) {}

  /**
   * In one statement, cancels run `id` when it is in one of `from` and, with `children`, every
   * descendant in one of `from` (children spawned by its branches, their children, …): each
   * ends `cancelled`, or begins its rollback (`compensating`, due now) when `rollback` says so
   * (a rollback that only runs the `@OnCancel()` cleanup, for a run that has one).
   * The lock is cleared, so a pass in flight writes nothing more. Run `id` ending `cancelled`
   * wakes its parent like any child's end (pushed fan-in). Returns the runs it moved (none
   * when run `id` itself was not in one of `from`).
   */
  async cancel(
    id: string,
    from: string[],
    reason: string | null,
    children: boolean,
    rollback: CancelRollback,
  ): Promise<CancelledRun[]> {
    const { wf, logs } = this.store;
    const rolls = `($5::boolean OR w.job_name = ANY($6::text[]))`;
    const moves = `(${rolls} OR w.job_name = ANY($7::text[]))`;
    const rows = await this.store.query<Omit<CancelledRun, 'woken'> & EndRow>(
      `WITH RECURSIVE tree AS (
         SELECT id FROM ${wf} WHERE id = $1 AND state = ANY($2::text[])
         UNION
         SELECT c.id FROM tree t JOIN ${logs} b ON b.workflow_id = t.id
           JOIN ${wf} c ON c.parent_execution_log_id = b.id
         WHERE $4::boolean),
       moved AS (UPDATE ${wf} w SET state = CASE WHEN ${moves} THEN 'compensating' ELSE 'cancelled' END,
         next_run_at = CASE WHEN ${moves} THEN now() END,
         finished_at = CASE WHEN ${moves} THEN NULL ELSE now() END,
         compensation = CASE WHEN ${rolls} THEN jsonb_build_object('cause', 'cancelled')
           WHEN ${moves} THEN jsonb_build_object('cause', 'cancelled', 'compensate', false)
           ELSE compensation END,
         cancel_reason = $3, locked_at = NULL, locked_by = NULL, wake_pending = false, updated_at = now()
       FROM tree WHERE w.id = tree.id AND w.state = ANY($2::text[])
       RETURNING w.id, w.state, w.next_run_at, w.parent_execution_log_id),
       w AS (SELECT id, parent_execution_log_id FROM moved WHERE id = $1 AND state = 'cancelled'),
       ${parentWakeCtes(wf, logs)}
       SELECT m.id::text AS id, m.state, m.next_run_at AS "nextRunAt", ${WOKEN_COLUMNS}
       FROM moved m LEFT JOIN k ON m.id = $1`,
      [id, from, reason, children, rollback.all, rollback.workflows, rollback.cleanups],
    );
    return rows.map(({ woken_id, woken_state, woken_at, ...run }) => ({
      ...run,
      woken:
        woken_id === null ? null : { id: woken_id, state: woken_state ?? '', nextRunAt: woken_at },
    }));
  }
}
