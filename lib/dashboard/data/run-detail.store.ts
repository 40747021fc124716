import { Injectable } from '@nestjs/common';
import { WorkflowNotFoundError } from '../../errors/workflow-not-found.error.js';
import type { WorkflowState } from '../../persistence/entities/workflow.entity.js';
import { DashboardStore } from './dashboard.store.js';

/** Every column of a run the detail page shows. */
export interface RunDetailRow {
  id: string;
  key: string;
  workflow: string;
  state: WorkflowState;
  attempt: number;
  input: unknown;
  result: unknown;
  context: Record<string, unknown>;
  max_duration_ms: number;
  locked_at: Date | null;
  locked_by: string | null;
  /** The lock is stale by the engine's rule (see {@link DashboardStore.staleLock}). */
  lock_stale: boolean;
  /** The lock is older than the run's `max_duration_ms` (otherwise a stale lock's worker is dead). */
  lock_expired: boolean;
  started_at: Date | null;
  completed_at: Date | null;
  /** When the run became `completed`, `failed` or `cancelled`. */
  finished_at: Date | null;
  next_run_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** A step log (repeat ticks excepted). */
export interface StepRow {
  id: string;
  step_name: string;
  state: 'pending' | 'completed' | 'failed';
  attempts: number;
  started_at: Date | null;
  last_executed_at: Date | null;
  completed_at: Date | null;
  result: unknown;
  metadata: Record<string, unknown>;
  error_class: string | null;
  error_message: string | null;
}

/** An error-log row. */
export interface ErrorRow {
  id: string;
  step_name: string | null;
  attempt: number | null;
  error_class: string;
  error_message: string | null;
  backtrace: string | null;
  created_at: Date;
}

/** A branch with its children counted by state. */
export interface BranchRow {
  log_id: string;
  name: string;
  state: string;
  metadata: Record<string, unknown>;
  children: Partial<Record<WorkflowState, number>>;
}

/** One ancestor of a child run: the parent run and the branch that spawned the child. */
export interface Ancestor {
  id: string;
  key: string;
  workflow: string;
  branch: string;
}

/** Most recent tick rows shown per repeat. */
export const TICKS_SHOWN = 25;

/** Read statements of the run detail and branch pages. */
@Injectable()
export class RunDetailStore {
  constructor(private readonly store: DashboardStore) {}

  async run(id: string): Promise<RunDetailRow> {
    const rows = await this.store.query<RunDetailRow>(
      `SELECT id, key, job_name AS workflow, state, attempt, input, result, context,
         max_duration_ms::float8 AS max_duration_ms, locked_at,
         locked_by, locked_at IS NOT NULL AND ${this.store.staleLock()} AS lock_stale,
         locked_at < now() - max_duration_ms * interval '1 millisecond' AS lock_expired, started_at,
         completed_at, finished_at, next_run_at, created_at, updated_at
       FROM ${this.store.table('workflows')} WHERE id = $1`,
      [id],
    );
    if (!rows[0]) throw new WorkflowNotFoundError(`No run with id ${id}.`);
    return rows[0];
  }

  /** Step logs in order, without repeat ticks (`durably_repeat$<name>$<ms>`). */
  async steps(id: string): Promise<StepRow[]> {
    return this.store.query<StepRow>(
      `SELECT id, step_name, state, attempts, started_at, last_executed_at, completed_at, result, metadata,
         error_class, error_message
       FROM ${this.store.table('execution_logs')}
       WHERE workflow_id = $1 AND step_name NOT LIKE 'durably\\_repeat$%$%' ORDER BY id`,
      [id],
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

  /** Error-log rows, newest first. */
  async errors(id: string, limit = 100): Promise<ErrorRow[]> {
    return this.store.query<ErrorRow>(
      `SELECT id, step_name, attempt, error_class, error_message, backtrace, created_at
       FROM ${this.store.table('error_logs')} WHERE workflow_id = $1 ORDER BY id DESC LIMIT $2`,
      [id, limit],
    );
  }

  /** Branch logs of the run (or only `name`) with child counts by state. */
  async branches(id: string, name?: string): Promise<BranchRow[]> {
    const rows = await this.store.query<
      BranchRow & { child_state: WorkflowState | null; n: number }
    >(
      `SELECT l.id AS log_id, substr(l.step_name, 8) AS name, l.state, l.metadata, w.state AS child_state,
         count(w.id)::int AS n
       FROM ${this.store.table('execution_logs')} l
       LEFT JOIN ${this.store.table('workflows')} w ON w.parent_execution_log_id = l.id
       WHERE l.workflow_id = $1 AND l.step_name LIKE 'branch$%' AND ($2::text IS NULL OR l.step_name = 'branch$' || $2)
       GROUP BY 1, 2, 3, 4, 5 ORDER BY 1`,
      [id, name ?? null],
    );
    const byLog = new Map<string, BranchRow>();
    for (const { child_state, n, ...r } of rows) {
      const b = byLog.get(r.log_id) ?? { ...r, children: {} };
      if (child_state) b.children[child_state] = n;
      byLog.set(r.log_id, b);
    }
    return [...byLog.values()];
  }

  /** Children of branch log `logId`, newest first, filtered by state, keyset-paginated by id. */
  async children(
    logId: string,
    state: WorkflowState | undefined,
    before: string | undefined,
    limit: number,
  ) {
    return this.store.query<{
      id: string;
      key: string;
      workflow: string;
      state: WorkflowState;
      updated_at: Date;
    }>(
      `SELECT id, key, job_name AS workflow, state, updated_at FROM ${this.store.table('workflows')}
       WHERE parent_execution_log_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::bigint IS NULL OR id < $3)
       ORDER BY id DESC LIMIT $4`,
      [logId, state ?? null, before ?? null, limit],
    );
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
