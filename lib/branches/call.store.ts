import { Injectable } from '@nestjs/common';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { StoredValue } from '../util/serialization.util.js';

/** States in which a child run has ended for its caller (`compensated`: failed, rolled back). */
export const ENDED_CHILD_STATES = ['completed', 'failed', 'cancelled', 'compensated'] as const;

/** The child of a call log, as its caller sees it. */
export interface CalledChild {
  id: string;
  key: string;
  state: string;
  result: StoredValue | null;
  never_started: boolean;
  next_run_at: Date | null;
  error_class: string | null;
  error_message: string | null;
}

/** Statements of `ctx.call`, `ctx.startChild` and child handles. */
@Injectable()
export class CallStore {
  private readonly childSql: string;
  private readonly armSql: string;
  private readonly pageSql: string;
  private readonly firstEndedSql: string;

  constructor(private readonly store: WorkflowStore) {
    const { wf, errors, logs } = store;
    const ended = ENDED_CHILD_STATES.map((s) => `'${s}'`).join(', ');
    const pick = `SELECT w.id::text AS id, w.key, w.state, w.result, w.next_run_at,
         (w.state = 'idle' AND w.started_at IS NULL) AS never_started,
         CASE WHEN w.state = 'cancelled' THEN 'RunCancelledError' ELSE e.error_class END AS error_class,
         CASE WHEN w.state = 'cancelled' THEN COALESCE(w.cancel_reason, 'cancelled') ELSE e.error_message END AS error_message
       FROM ${wf} w LEFT JOIN LATERAL (SELECT error_class, error_message FROM ${errors}
         WHERE workflow_id = w.id ORDER BY id DESC LIMIT 1) e ON w.state IN ('failed', 'stalled', 'compensated')`;
    this.childSql = `${pick} WHERE w.parent_execution_log_id = $1 ORDER BY w.id LIMIT 1`;
    this.pageSql = `${pick} WHERE w.parent_execution_log_id = $1 AND w.id > $2 ORDER BY w.id LIMIT $3`;
    this.firstEndedSql = `${pick} WHERE w.parent_execution_log_id = ANY($1::bigint[])
       AND w.state = ANY($2::text[]) ORDER BY w.finished_at, w.id LIMIT 1`;
    // NOTE: the child's row is read FOR SHARE, so a completion in flight is waited for and seen:
    // either the child ended (nothing armed) or its end finds the count armed and wakes the parent.
    this.armSql = `UPDATE ${logs} SET pending_children = 1, updated_at = now()
       WHERE id = $3 AND workflow_id = $1 AND ${store.fenced()}
         AND EXISTS (SELECT 1 FROM ${wf} WHERE id = $4 AND state NOT IN (${ended}) FOR SHARE)
       RETURNING id`;
  }

  /** The child run of call log `logId` (the first, there is one), with its last error. */
  async child(logId: string): Promise<CalledChild | null> {
    const rows = await this.store.query<CalledChild>(this.childSql, [logId]);
    return rows[0] ?? null;
  }

  /** Up to `limit` children of branch log `logId` after id `afterId`, by id (keyset). */
  async page(logId: string, afterId: string, limit: number): Promise<CalledChild[]> {
    return this.store.query<CalledChild>(this.pageSql, [logId, afterId, limit]);
  }

  /** Every child of the branch logs, `of` at a time, by branch and id (constant memory). */
  async *pages(logIds: string[], of = 500): AsyncGenerator<CalledChild[]> {
    for (const logId of logIds) {
      let after = '0';
      for (;;) {
        const rows = await this.page(logId, after, of);
        if (rows.length > 0) yield rows;
        if (rows.length < of) break;
        after = rows[rows.length - 1].id;
      }
    }
  }

  /** The child of the branch logs that ended first in one of `states`, if any. */
  async firstEnded(logIds: string[], states: string[]): Promise<CalledChild | null> {
    const rows = await this.store.query<CalledChild>(this.firstEndedSql, [logIds, states]);
    return rows[0] ?? null;
  }

  /**
   * Makes the end of child `childId` wake the parent (its `child$` log counts it as pending);
   * `false` when the child has already ended. Fenced: `null` when the pass lost its lock.
   */
  async armWake(
    parentId: string,
    owner: string,
    logId: string,
    childId: string,
  ): Promise<boolean | null> {
    const rows = await this.store.query(this.armSql, [parentId, owner, logId, childId]);
    if (rows.length > 0) return true;
    const fenced = await this.store.query(
      `SELECT 1 FROM ${this.store.wf} WHERE id = $1 AND locked_by = $2`,
      [parentId, owner],
    );
    return fenced.length > 0 ? false : null;
  }
}
