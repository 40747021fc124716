/**
 * Pushed fan-in, as CTEs following a CTE `w` (the ended child: `id`, `parent_execution_log_id`):
 * the child's end takes one off the pending count of the branch or call log it belongs to and,
 * at zero, wakes the parent in the same statement (due now when idle; `wake_pending` while a
 * pass holds it). `k` returns the woken parent. Used by every statement that ends a run (its
 * completion, failure, cancel, deadline cancel, the end of its rollback). NOTE: the parent's row
 * is locked before the log (`par`), the order in which the parent's own writes take them (the
 * fence, then its logs), so a child's end and a parent's spawn never deadlock.
 */
export function parentWakeCtes(wf: string, logs: string): string {
  return `par AS (
         SELECT pl.id AS log_id FROM ${logs} pl JOIN ${wf} pw ON pw.id = pl.workflow_id
         WHERE pl.id = (SELECT parent_execution_log_id FROM w) AND pl.pending_children > 0
         FOR NO KEY UPDATE OF pw),
       p AS (
         UPDATE ${logs} SET pending_children = pending_children - 1
         WHERE id = (SELECT log_id FROM par) AND pending_children > 0
         RETURNING workflow_id, pending_children),
       k AS (
         UPDATE ${wf} SET next_run_at = CASE WHEN state = 'idle' THEN now() ELSE next_run_at END,
           wake_pending = wake_pending OR state = 'running', updated_at = now()
         WHERE id = (SELECT workflow_id FROM p WHERE pending_children = 0) AND state IN ('idle', 'running')
         RETURNING id::text AS id, state, next_run_at)`;
}

/** The columns of the parent `k` woke (see `EndRow`), selected as `woken_*`. */
export const WOKEN_COLUMNS = `k.id AS woken_id, k.state AS woken_state, k.next_run_at AS woken_at`;
