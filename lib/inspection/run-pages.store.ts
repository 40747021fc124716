import { Injectable } from '@nestjs/common';
import type { WorkflowState } from '../database/entities/workflow.entity.js';
import { RunListStore } from './run-list.store.js';
import { keyset, type ListOrder, type Page, type PageRequest, toPage } from './keyset-page.js';
import { STEP_COLUMNS } from './run-detail.store.js';
import type { BranchRow, ChildRow, ErrorRow, StepRow } from './run-rows.js';

/** Step logs that are not repeat ticks (`durably_repeat$<name>$<ms>`). */
const NOT_TICK = `step_name NOT LIKE 'durably\\_repeat$%$%'`;

/** The paged lists of a run (steps, errors, branches) and of a branch (children), by keyset. */
@Injectable()
export class RunPagesStore {
  constructor(private readonly store: RunListStore) {}

  /** A page of `table`'s rows matching `where` (parameters `values`), in `order` by id. */
  private async page<R extends { id: string }>(
    sql: { select: string; where: string; values: unknown[] },
    order: ListOrder,
    req: PageRequest,
  ): Promise<Page<R>> {
    const k = keyset('id', order, req, sql.values.length + 1);
    const rows = await this.store.query<R>(
      `${sql.select} WHERE ${sql.where} AND ${k.where} ${k.orderLimit}`,
      [...sql.values, ...k.values],
    );
    return toPage(rows, order, req, (r) => r.id);
  }

  /** Step logs in the order they were recorded, without repeat ticks. */
  steps(id: string, req: PageRequest): Promise<Page<StepRow>> {
    const select = `SELECT ${STEP_COLUMNS} FROM ${this.store.table('execution_logs')}`;
    return this.page(
      { select, where: `workflow_id = $1 AND ${NOT_TICK}`, values: [id] },
      'asc',
      req,
    );
  }

  /** How many step logs (without repeat ticks) the run has. */
  async stepCount(id: string): Promise<number> {
    const [row] = await this.store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.store.table('execution_logs')} WHERE workflow_id = $1 AND ${NOT_TICK}`,
      [id],
    );
    return row.n;
  }

  /** Error-log rows, newest first. */
  errors(id: string, req: PageRequest): Promise<Page<ErrorRow>> {
    const select = `SELECT id, step_name, attempt, error_class, error_message, backtrace, created_at
       FROM ${this.store.table('error_logs')}`;
    return this.page({ select, where: 'workflow_id = $1', values: [id] }, 'desc', req);
  }

  /** How many error-log rows the run has. */
  async errorCount(id: string): Promise<number> {
    const [row] = await this.store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.store.table('error_logs')} WHERE workflow_id = $1`,
      [id],
    );
    return row.n;
  }

  /** Branch logs of the run, oldest first, with their children counted by state. */
  async branches(id: string, req: PageRequest, name?: string): Promise<Page<BranchRow>> {
    const k = keyset('id', 'asc', req, 3);
    const rows = await this.store.query<
      Omit<BranchRow, 'children'> & { child_state: WorkflowState | null; n: number }
    >(
      `WITH b AS (
         SELECT id, step_name, state, metadata FROM ${this.store.table('execution_logs')}
         WHERE workflow_id = $1 AND step_name LIKE 'branch$%'
           AND ($2::text IS NULL OR step_name = 'branch$' || $2) AND ${k.where} ${k.orderLimit})
       SELECT b.id AS log_id, substr(b.step_name, 8) AS name, b.state, b.metadata,
         w.state AS child_state, count(w.id)::int AS n
       FROM b LEFT JOIN ${this.store.table('workflows')} w ON w.parent_execution_log_id = b.id
       GROUP BY 1, 2, 3, 4, 5 ORDER BY b.id ${req.before !== undefined ? 'DESC' : 'ASC'}`,
      [id, name ?? null, ...k.values],
    );
    const byLog = new Map<string, BranchRow>();
    for (const { child_state, n, ...r } of rows) {
      const b = byLog.get(r.log_id) ?? { ...r, children: {} };
      if (child_state) b.children[child_state] = n;
      byLog.set(r.log_id, b);
    }
    return toPage([...byLog.values()], 'asc', req, (b) => b.log_id);
  }

  /** Children of branch log `logId`, newest first, optionally of one state. */
  children(
    logId: string,
    state: WorkflowState | undefined,
    req: PageRequest,
  ): Promise<Page<ChildRow>> {
    const select = `SELECT id, key, job_name AS workflow, state, updated_at FROM ${this.store.table('workflows')}`;
    const where = 'parent_execution_log_id = $1 AND ($2::text IS NULL OR state = $2)';
    return this.page({ select, where, values: [logId, state ?? null] }, 'desc', req);
  }
}
