import type { QueryResultRow } from 'pg';
import type { QueryRunner } from 'typeorm';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import { RUN_STATES, type WorkflowState } from '../database/entities/workflow.entity.js';
import { REPEAT_TICK_PATTERN } from '../persistence/workflow.sql.js';
import type { WorkflowStore } from '../persistence/workflow.store.js';
import { deserializeValue, type StoredValue } from '../util/serialization.util.js';
import {
  assertOptionalText,
  assertRunKey,
  MAX_KEY_LENGTH,
  MAX_WORKFLOW_NAME_LENGTH,
} from '../definitions/client-arguments.js';
import { runFilterSql } from '../inspection/run-filter.sql.js';
import { checkAttributeFilter } from '../definitions/search-attributes.js';
import { engineStatement } from '../database/engine-statement.js';
import { allowedFrom } from './transitions.js';
import type {
  BranchInfo,
  ErrorInfo,
  ListRunsFilter,
  StepInfo,
  WorkflowRunDetail,
  WorkflowRunSummary,
} from './workflow-run.interface.js';
import { limitTables, runWaitsSql, type RunWaitRow, toRunLimitWait } from '../limits/limit.sql.js';

const SUMMARY_COLUMNS = `id, key, job_name AS workflow, state, attempt + 1 AS attempt, started_at AS "startedAt",
  completed_at AS "completedAt", finished_at AS "finishedAt", next_run_at AS "nextRunAt", locked_by AS "lockedBy", created_at AS "createdAt",
  updated_at AS "updatedAt", attributes`;

/** Largest PostgreSQL bigint: run ids (and `before` cursors) are at most this. */
const MAX_BIGINT = 9223372036854775807n;

/** A run id as text: decimal digits of a positive bigint. */
function isRunId(value: unknown): boolean {
  return typeof value === 'string' && /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_BIGINT;
}

/** The client's read and operator statements. */
export class RunQueries {
  /** What a run waits on (its limit waits). */
  private readonly waitsSql: string;

  constructor(private readonly store: WorkflowStore) {
    this.waitsSql = runWaitsSql(limitTables(store.schema), store.wf);
  }

  /** The run with `key`; inside the caller's transaction when `runner` is given. */
  async find(
    key: string,
    workflow?: string,
    runner?: QueryRunner,
  ): Promise<{ id: string; job_name: string }> {
    assertRunKey(key);
    assertOptionalText(workflow, 'workflow');
    const rows = await this.store.query<{ id: string; job_name: string }>(
      `SELECT id, job_name FROM ${this.store.wf} WHERE key = $1 AND ($2::text IS NULL OR job_name = $2) LIMIT 2`,
      [key, workflow ?? null],
      runner,
    );
    if (rows.length === 0)
      throw new WorkflowNotFoundError(
        `No run with key "${key}"${workflow ? ` of workflow "${workflow}"` : ''}.`,
      );
    if (rows.length > 1) {
      throw new InvalidOptionsError(
        `Several workflows have a run with key "${key}"; pass { workflow: '<name>' }.`,
      );
    }
    return rows[0];
  }

  async outcome(
    id: string,
    runner?: QueryRunner,
  ): Promise<{
    state: WorkflowState;
    result: unknown;
    lastError: { errorClass: string; message: string | null; stepName: string | null } | null;
    /** The run began a rollback (it has a `compensation` record). */
    rolledBack: boolean;
  }> {
    const rows = await this.store.query<{
      state: WorkflowState;
      result: unknown;
      last_error: never;
      rolled_back: boolean;
    }>(
      `SELECT w.state, w.result, w.compensation IS NOT NULL AS rolled_back, (SELECT json_build_object('errorClass', e.error_class, 'message', e.error_message,
           'stepName', e.step_name) FROM ${this.store.errors} e WHERE e.workflow_id = w.id ORDER BY e.id DESC LIMIT 1) AS last_error
       FROM ${this.store.wf} w WHERE w.id = $1`,
      [id],
      runner,
    );
    if (!rows[0]) throw new WorkflowNotFoundError(`Run ${id} no longer exists.`);
    const { state, result, last_error: lastError, rolled_back: rolledBack } = rows[0];
    return { state, result, lastError, rolledBack };
  }

  /** The run, its steps and errors, read from one snapshot (REPEATABLE READ). */
  async detail(id: string): Promise<WorkflowRunDetail> {
    return this.store.transaction(async (client) => {
      const q = async <R extends QueryResultRow>(text: string, values: unknown[]) =>
        (await client.query<R>(text, values)).rows;
      return this.readDetail(id, q);
    }, 'REPEATABLE READ');
  }

  private async readDetail(
    id: string,
    q: <R extends QueryResultRow>(text: string, values: unknown[]) => Promise<R[]>,
  ): Promise<WorkflowRunDetail> {
    const [run] = await q<Omit<WorkflowRunDetail, 'steps' | 'errors' | 'branches'>>(
      `SELECT ${SUMMARY_COLUMNS}, input, result, context, compensation, cancel_reason AS "cancelReason",
         deadline_at AS "deadlineAt", version, forked_from::text AS "forkedFrom"
       FROM ${this.store.wf} WHERE id = $1`,
      [id],
    );
    if (!run) throw new WorkflowNotFoundError(`Run ${id} no longer exists.`);
    const steps = await q<StepInfo>(
      `SELECT step_name AS name, state, attempts, started_at AS "startedAt", completed_at AS "completedAt",
         error_class AS "errorClass", error_message AS "errorMessage", metadata
       FROM ${this.store.logs} WHERE workflow_id = $1 ORDER BY id`,
      [id],
    );
    const errors = await q<ErrorInfo>(
      `SELECT id, step_name AS "stepName", attempt, error_class AS "errorClass", error_message AS message, backtrace,
         created_at AS "createdAt" FROM ${this.store.errors} WHERE workflow_id = $1 ORDER BY id`,
      [id],
    );
    const branchRows = await q<{
      name: string;
      state: string;
      poll: unknown;
      child_state: WorkflowState | null;
      n: number;
    }>(
      `SELECT substr(l.step_name, 8) AS name, l.state, l.metadata->'poll' AS poll, w.state AS child_state, count(w.id)::int AS n
       FROM ${this.store.logs} l LEFT JOIN ${this.store.wf} w ON w.parent_execution_log_id = l.id
       WHERE l.workflow_id = $1 AND l.step_name LIKE 'branch$%' GROUP BY 1, 2, 3, 4 ORDER BY 1`,
      [id],
    );
    const branches = new Map<string, BranchInfo>();
    for (const r of branchRows) {
      const b = branches.get(r.name) ?? {
        name: r.name,
        sealed: r.state === 'completed',
        children: {},
        poll: r.poll ?? null,
      };
      if (r.child_state) b.children[r.child_state] = r.n;
      branches.set(r.name, b);
    }
    return {
      ...run,
      result: run.result == null ? null : deserializeValue(run.result as StoredValue),
      steps,
      errors,
      branches: [...branches.values()],
      waitingOn: (await q<RunWaitRow>(this.waitsSql, [id])).map(toRunLimitWait),
    };
  }

  async list(filter: ListRunsFilter): Promise<WorkflowRunSummary[]> {
    if (filter === null || typeof filter !== 'object')
      throw new InvalidOptionsError('list() filter must be an object.');
    const states =
      filter.state === undefined
        ? null
        : Array.isArray(filter.state)
          ? filter.state
          : [filter.state];
    if (states && states.some((s) => !RUN_STATES.includes(s))) {
      throw new InvalidOptionsError(
        `Unknown state in list() filter; use ${RUN_STATES.join(', ')}.`,
      );
    }
    // Each field is read once, and no other (a caller's object may have getters).
    const { workflow, keyPrefix, before, limit = 50, attributes: attrs } = filter;
    assertOptionalText(workflow, 'list() workflow', MAX_WORKFLOW_NAME_LENGTH);
    assertOptionalText(keyPrefix, 'list() keyPrefix', MAX_KEY_LENGTH);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new InvalidOptionsError('list() limit must be 1..500.');
    if (before !== undefined && !isRunId(before))
      throw new InvalidOptionsError('list() before must be a run id (a positive 64-bit integer).');
    const attributes =
      attrs === undefined ? undefined : checkAttributeFilter(attrs, 'list() attributes');
    const filterSql = { states: states ?? undefined, workflow, keyPrefix, before, attributes };
    const { where, values } = runFilterSql(filterSql);
    const text = `SELECT ${SUMMARY_COLUMNS} FROM ${this.store.wf} WHERE ${where}
       ORDER BY id DESC LIMIT $${values.length + 1}`;
    if (attributes === undefined)
      return this.store.query<WorkflowRunSummary>(text, [...values, limit]);
    // NOTE: unnamed, so planned with its values every time: a prepared statement's generic plan
    // cannot tell a rare attribute (the GIN index) from a common one (the id order), and may scan
    // the whole table backwards for a value few runs have.
    const q = () => this.store.pool.query<WorkflowRunSummary>(text, [...values, limit]);
    return (await engineStatement(q)).rows;
  }

  /**
   * Retry in one statement: state, the `$workflow_retry$` log, and the step log that stalled the
   * run back to `pending` with a fresh retry budget and a fresh deadline (a timed-out wait drops
   * its `timeout_at` and waits again for its whole timeout). The stalling log is the one the stall
   * marked `stalls_run` (the step, wait or repeat tick whose `ExecutionFailedError` escaped the
   * workflow method); for a run stalled before those marks existed, the most recent failed step.
   * Every other failed log — a failure the workflow caught, a failed tick of an
   * `onError: 'continue'` repeat — is history: replay gives it the same outcome again. A `failed`
   * run (a workflow-level error) keeps all its failed logs.
   */
  async retry(id: string): Promise<Date | null> {
    const rows = await this.store.query<{ next_run_at: Date }>(
      `WITH old AS (SELECT id, state FROM ${this.store.wf} WHERE id = $1),
       w AS (
         UPDATE ${this.store.wf} SET state = 'idle', locked_at = NULL, locked_by = NULL, attempt = 0,
           retry_counts = '{}', wake_pending = false, next_run_at = now(), finished_at = NULL, updated_at = now()
         WHERE id = $1 AND state = ANY($2::text[]) AND compensation IS NULL RETURNING id, next_run_at),
       failed AS (
         SELECT l.id, l.step_name, l.updated_at, l.metadata ? 'stalls_run' AS marked
         FROM ${this.store.logs} l JOIN old ON old.id = l.workflow_id
         WHERE old.state = 'stalled' AND l.state = 'failed'),
       stalling AS (
         SELECT id FROM failed WHERE marked
         UNION ALL
         (SELECT id FROM failed WHERE NOT EXISTS (SELECT 1 FROM failed WHERE marked)
            AND step_name NOT LIKE ${REPEAT_TICK_PATTERN} ORDER BY updated_at DESC, id DESC LIMIT 1)),
       l AS (
         UPDATE ${this.store.logs} SET state = 'pending', updated_at = now(),
           metadata = (metadata - 'timeout_at' - 'result' - 'stalls_run')
             || jsonb_build_object('attempt_offset', attempts, 'retry_counts', '{}'::jsonb)
         WHERE workflow_id IN (SELECT id FROM w) AND id IN (SELECT id FROM stalling)),
       r AS (
         INSERT INTO ${this.store.logs} (workflow_id, step_name, state, attempts, started_at, last_executed_at,
           completed_at, metadata)
         SELECT w.id, '$workflow_retry$' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 'completed', 1,
           now(), now(), now(), jsonb_build_object('previous_state', old.state)
         FROM w JOIN old ON old.id = w.id ON CONFLICT DO NOTHING)
       SELECT next_run_at FROM w`,
      [id, allowedFrom('retry')],
    );
    return rows[0]?.next_run_at ?? null;
  }
}
