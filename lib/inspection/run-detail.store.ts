import { Injectable } from '@nestjs/common';
import { COMPENSATION_PREFIX } from '../lifecycle/compensations.js';
import { LOCK_EXPIRED } from '../persistence/workflow.sql.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import { RunListStore } from './run-list.store.js';
import type { Ancestor, RunDetailRow, StepRow } from './run-rows.js';
import { ON_CANCEL_STEP } from '../lifecycle/on-cancel.js';

/** Most recent tick rows shown per repeat. */
export const TICKS_SHOWN = 25;
/** Repeats shown on a run page (a run rarely has more than a few). */
export const REPEATS_SHOWN = 20;

/** Step-log columns of a {@link StepRow}. */
export const STEP_COLUMNS = `id, step_name, state, attempts, started_at, last_executed_at, completed_at, result,
  metadata, error_class, error_message`;

/** Read statements of the run detail page (besides its paged lists) and of the branch page. */
@Injectable()
export class RunDetailStore {
  constructor(private readonly store: RunListStore) {}

  async run(id: string): Promise<RunDetailRow> {
    const rows = await this.store.query<RunDetailRow>(
      `SELECT id, key, job_name AS workflow, state, attempt, input, result, context,
         max_duration_ms::float8 AS max_duration_ms, locked_at,
         locked_by, locked_at IS NOT NULL AND ${this.store.staleLock()} AS lock_stale,
         ${LOCK_EXPIRED} AS lock_expired, started_at,
         completed_at, finished_at, next_run_at, created_at, updated_at, cancel_reason, deadline_at,
         compensation, attributes
       FROM ${this.store.table('workflows')} WHERE id = $1`,
      [id],
    );
    if (!rows[0]) throw new WorkflowNotFoundError(`No run with id ${id}.`);
    return rows[0];
  }

  /** The run's repeat coordinators (`durably_repeat$<name>`), oldest first, at most `limit`. */
  async repeatCoords(id: string, limit: number): Promise<StepRow[]> {
    return this.store.query<StepRow>(
      `SELECT ${STEP_COLUMNS} FROM ${this.store.table('execution_logs')}
       WHERE workflow_id = $1 AND step_name LIKE 'durably\\_repeat$%'
         AND step_name NOT LIKE 'durably\\_repeat$%$%'
       ORDER BY id LIMIT $2`,
      [id, limit],
    );
  }

  /** The newest tick rows of repeat `coordName` and how many there are. */
  async ticks(id: string, coordName: string): Promise<{ rows: StepRow[]; total: number }> {
    const logs = this.store.table('execution_logs');
    const where = `workflow_id = $1 AND left(step_name, length($2)) = $2`;
    const rows = await this.store.query<StepRow>(
      `SELECT id, step_name, state, attempts, started_at, last_executed_at, completed_at, NULL AS result, metadata,
         error_class, error_message FROM ${logs} WHERE ${where} ORDER BY id DESC LIMIT ${TICKS_SHOWN}`,
      [id, `${coordName}$`],
    );
    const [count] = await this.store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${logs} WHERE ${where}`,
      [id, `${coordName}$`],
    );
    return { rows, total: count.n };
  }

  /**
   * The run's compensation step logs (`$compensate$<step>`) and its `@OnCancel()` cleanup
   * (`$oncancel$`) in the order they began, at most `limit`.
   */
  async compensations(id: string, limit: number): Promise<StepRow[]> {
    return this.store.query<StepRow>(
      `SELECT ${STEP_COLUMNS} FROM ${this.store.table('execution_logs')}
       WHERE workflow_id = $1 AND (left(step_name, length($2)) = $2 OR step_name = $4)
       ORDER BY id LIMIT $3`,
      [id, COMPENSATION_PREFIX, limit, ON_CANCEL_STEP],
    );
  }

  /** The merge step (`merge$a,b`) of the run that merges branch `name`, if any. */
  async mergeOf(id: string, name: string): Promise<StepRow | undefined> {
    const [row] = await this.store.query<StepRow>(
      `SELECT ${STEP_COLUMNS} FROM ${this.store.table('execution_logs')}
       WHERE workflow_id = $1 AND step_name LIKE 'merge$%'
         AND $2 = ANY (string_to_array(substr(step_name, 7), ','))
       ORDER BY id LIMIT 1`,
      [id, name],
    );
    return row;
  }

  /** Parent runs up the `parent_execution_log_id` chain, root first (at most 10 levels). */
  async ancestors(id: string): Promise<Ancestor[]> {
    const wf = this.store.table('workflows');
    const logs = this.store.table('execution_logs');
    const rows = await this.store.query<Ancestor & { depth: number }>(
      `WITH RECURSIVE up(id, parent_log, depth) AS (
         SELECT id, parent_execution_log_id, 0 FROM ${wf} WHERE id = $1
         UNION ALL
         SELECT p.id, p.parent_execution_log_id, up.depth + 1
         FROM up JOIN ${logs} l ON l.id = up.parent_log JOIN ${wf} p ON p.id = l.workflow_id WHERE up.depth < 10)
       SELECT p.id, p.key, p.job_name AS workflow, substr(l.step_name, 8) AS branch, up.depth
       FROM up JOIN ${logs} l ON l.id = up.parent_log JOIN ${wf} p ON p.id = l.workflow_id
       ORDER BY up.depth DESC`,
      [id],
    );
    return rows.map(({ depth: _depth, ...a }) => a);
  }
}
