import { Injectable } from '@nestjs/common';
import type { QueryResultRow } from 'pg';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import type { WorkflowState } from '../database/entities/workflow.entity.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { SearchAttributes } from '../definitions/search-attributes.js';
import { runFilterSql } from './run-filter.sql.js';

/** An idle run is overdue once its wake time passed by this much (the sweeper runs every 30 s). */
export const OVERDUE_GRACE_MS = 60_000;
/** A run waiting without any timer is listed as stranded after this long without an update. */
export const WAITING_TOO_LONG_MS = 3_600_000;

/** A run in a table row. */
export interface RunRow {
  id: string;
  key: string;
  workflow: string;
  state: WorkflowState;
  updated_at: Date;
  next_run_at: Date | null;
  locked_at: Date | null;
  locked_by: string | null;
}

/** A run the dashboard lists as stranded, with why. */
export interface StrandedRow extends RunRow {
  reason:
    | 'stale lock'
    | 'overdue wake-up'
    | 'never started'
    | 'parent finished'
    | 'waiting without timer';
}

/** Counts of the overview. */
export interface Overview {
  byState: Partial<Record<WorkflowState, number>>;
  byWorkflow: { workflow: string; state: WorkflowState; n: number }[];
  stuck: StrandedRow[];
}

/** The runs a bulk action acts on: of one workflow, in some states, keys with a prefix. */
export interface BulkFilter {
  workflow: string;
  states: readonly WorkflowState[];
  key?: string;
  /**
   * Only these runs (ids): the ones the confirmation listed, so a run that starts or reaches a
   * matching state after the confirmation was shown is left alone.
   */
  ids?: readonly string[];
}

/** The filter's condition, `$1`..`$4`, and `$5` its run ids (`NULL`: any run). */
const bulkWhere = (f: BulkFilter) => {
  const { where, values } = runFilterSql({
    states: f.states,
    workflow: f.workflow,
    keyPrefix: f.key,
  });
  return {
    where: `${where} AND ($5::bigint[] IS NULL OR id = ANY($5))`,
    values: [...values, f.ids ?? null],
  };
};

const RUN_COLUMNS = `w.id, w.key, w.job_name AS workflow, w.state, w.updated_at, w.next_run_at, w.locked_at, w.locked_by`;
const OVERDUE = `w.state = 'idle' AND w.next_run_at < now() - $1 * interval '1 millisecond'`;

/** Read statements of the dashboard's overview, lists and stranded view. */
@Injectable()
export class RunListStore {
  constructor(
    private readonly db: ChronoForgeDatabase,
    private readonly engine: WorkflowStore,
  ) {}

  /**
   * SQL condition on an unaliased workflows row: its lock is stale by the engine's own rule
   * (`WorkflowStore.staleLock()`): older than the run's `maxDuration`, or held by a worker whose
   * heartbeat is older than `worker.deadAfter`. (It is also true for a free lock.)
   */
  staleLock(): string {
    return this.engine.staleLock();
  }

  /** The workflows table as `w`, with `stale_lock`: a `running` run whose lock is stale. */
  private runsWithStaleLock(): string {
    return `(SELECT *, state = 'running' AND ${this.staleLock()} AS stale_lock
       FROM ${this.table('workflows')}) w`;
  }

  /** Quoted name of a ChronoForge table. */
  table(name: 'workflows' | 'execution_logs' | 'error_logs' | 'signals' | 'limit_slots'): string {
    return `"${this.db.schema}".chrono_forge_${name}`;
  }

  async query<R extends QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.db.pool.query<R>(text, values)).rows;
  }

  async overview(): Promise<Overview> {
    const byWorkflow = await this.query<{ workflow: string; state: WorkflowState; n: number }>(
      `SELECT job_name AS workflow, state, count(*)::int AS n FROM ${this.table('workflows')}
       GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const byState: Overview['byState'] = {};
    for (const r of byWorkflow) byState[r.state] = (byState[r.state] ?? 0) + r.n;
    const stuck = await this.query<StrandedRow>(
      `SELECT ${RUN_COLUMNS}, CASE WHEN w.state = 'running' THEN 'stale lock' ELSE 'overdue wake-up' END AS reason
       FROM ${this.runsWithStaleLock()} WHERE w.stale_lock OR (${OVERDUE}) ORDER BY w.id LIMIT 20`,
      [OVERDUE_GRACE_MS],
    );
    return { byState, byWorkflow, stuck };
  }

  /** A page of runs, newest first, filtered like `WorkflowClient.list()`. */
  async list(
    f: {
      state?: WorkflowState;
      workflow?: string;
      key?: string;
      before?: string;
      attributes?: SearchAttributes;
    },
    limit: number,
  ): Promise<RunRow[]> {
    const { where, values } = runFilterSql({
      states: f.state && [f.state],
      workflow: f.workflow,
      keyPrefix: f.key,
      before: f.before,
      attributes: f.attributes,
    });
    return this.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM ${this.table('workflows')} w WHERE ${where}
       ORDER BY w.id DESC LIMIT $${values.length + 1}`,
      [...values, limit],
    );
  }

  /** Workflow names that have runs, for the filter. */
  async workflowNames(): Promise<string[]> {
    const rows = await this.query<{ job_name: string }>(
      `SELECT job_name FROM ${this.table('workflows')} GROUP BY 1 ORDER BY 1 LIMIT 500`,
    );
    return rows.map((r) => r.job_name);
  }

  /** Runs that will not move on their own, oldest first, keyset-paginated by id. */
  async stranded(before: string | undefined, limit: number): Promise<StrandedRow[]> {
    const wf = this.table('workflows');
    const logs = this.table('execution_logs');
    return this.query<StrandedRow>(
      `SELECT * FROM (
         SELECT ${RUN_COLUMNS},
           CASE WHEN w.stale_lock THEN 'stale lock'
                WHEN ${OVERDUE} AND w.started_at IS NULL THEN 'never started'
                WHEN ${OVERDUE} THEN 'overdue wake-up'
                WHEN p.state IN ('completed', 'failed', 'cancelled', 'compensated') THEN 'parent finished'
                WHEN w.state = 'idle' AND w.next_run_at IS NULL AND w.updated_at < now() - $2 * interval '1 millisecond'
                  THEN 'waiting without timer'
           END AS reason
         FROM ${this.runsWithStaleLock()}
         LEFT JOIN ${logs} pl ON pl.id = w.parent_execution_log_id
         LEFT JOIN ${wf} p ON p.id = pl.workflow_id
         WHERE w.state IN ('idle', 'running') AND ($3::bigint IS NULL OR w.id < $3)) s
       WHERE reason IS NOT NULL ORDER BY id DESC LIMIT $4`,
      [OVERDUE_GRACE_MS, WAITING_TOO_LONG_MS, before ?? null, limit],
    );
  }

  /** The run's identity, or `WorkflowNotFoundError`. */
  async identify(
    id: string,
  ): Promise<{ id: string; key: string; workflow: string; state: WorkflowState }> {
    const rows = await this.query<{
      id: string;
      key: string;
      workflow: string;
      state: WorkflowState;
    }>(
      `SELECT id, key, job_name AS workflow, state FROM ${this.table('workflows')} WHERE id = $1`,
      [id],
    );
    if (!rows[0]) throw new WorkflowNotFoundError(`No run with id ${id}.`);
    return rows[0];
  }

  /** Runs of `f.workflow` in one of `f.states`, keys starting with `f.key`; oldest first. */
  async matching(f: BulkFilter, limit: number): Promise<{ id: string; key: string }[]> {
    const { where, values } = bulkWhere(f);
    return this.query<{ id: string; key: string }>(
      `SELECT id, key FROM ${this.table('workflows')} WHERE ${where} ORDER BY id LIMIT $6`,
      [...values, limit],
    );
  }

  /**
   * The exact number of runs {@link matching} matches now and, in one statement, the ids of the
   * oldest `limit` of them: what a click on the confirmation acts on (see {@link BulkFilter.ids}).
   */
  async countMatching(f: BulkFilter, limit: number): Promise<{ n: number; ids: string[] }> {
    const { where, values } = bulkWhere(f);
    const [row] = await this.query<{ n: number; ids: string[] }>(
      `WITH m AS MATERIALIZED (SELECT id FROM ${this.table('workflows')} WHERE ${where})
       SELECT (SELECT count(*)::int FROM m) AS n,
         ARRAY(SELECT id::text FROM m ORDER BY id LIMIT $6) AS ids`,
      [...values, limit],
    );
    return row;
  }
}
