import { createHash } from 'node:crypto';
import { acquireStatements, due, LOCKABLE } from './acquire.sql.js';
import { CheckpointStatements, dollar, fence, stateFenceWith } from './checkpoint.sql.js';
import { parentWakeCtes, WOKEN_COLUMNS } from './parent-wake.sql.js';
import type { WorkflowTables } from './tables.sql.js';

export {
  NOT_DUE_TOLERANCE_MS,
  REPEAT_TICK_PATTERN,
  SLEEP_RESULT,
  WAKE_DEADLINE_MARGIN_MS,
} from './acquire.sql.js';
export { REFUSED_CHECKPOINT_COLUMN } from './checkpoint.sql.js';
export { type WorkflowTables, workflowTables } from './tables.sql.js';

/** Default of `worker.deadAfter`: a worker whose heartbeat is older is dead. */
export const WORKER_DEAD_AFTER_MS = 30_000;

const statementNames = new Map<string, string>();

/** A stable prepared-statement name for a SQL text (parsed and planned once per connection). */
export function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `cf_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** SQL: the time before which a run's lock has outlived its `max_duration_ms` (one pass's lease). */
export const LOCK_EXPIRY_CUTOFF = `now() - max_duration_ms * interval '1 millisecond'`;

/** SQL condition on a workflows row: its lock outlived `max_duration_ms`, so any pass may take it. */
export const LOCK_EXPIRED = `locked_at < ${LOCK_EXPIRY_CUTOFF}`;

/**
 * SQL condition on a workflows row: its lock may be taken — free, older than the run's
 * `max_duration_ms`, or held by a worker whose heartbeat stopped `deadAfterMs` ago (a dead process).
 */
export function staleLockCondition(workers: string, deadAfterMs: number): string {
  const dead = `${Math.round(deadAfterMs)} * interval '1 millisecond'`;
  return `(locked_at IS NULL OR ${LOCK_EXPIRED}
      OR (locked_at < now() - ${dead} AND NOT EXISTS (SELECT 1 FROM ${workers} k
          WHERE k.id = split_part(locked_by, '/', 1) AND k.heartbeat_at > now() - ${dead})))`;
}

/**
 * The texts of the hot-path statements, built once per store: the step wrapper does not rebuild
 * (and re-hash for its prepared-statement name) a SQL string per step. `$1` is always the run id
 * and `$2` the pass's lock owner where a statement is fenced. The checkpoints' statements are
 * {@link CheckpointStatements}; the group commit's multi-row ones are `GroupWriteStatements`.
 */
export class WorkflowStatements extends CheckpointStatements {
  /** SQL condition: this pass (`$2`) still owns run `$1`. */
  readonly fenced: string;
  readonly acquire: string;
  /** `acquire`, also taking back a lock pass `$2` itself holds (after an ambiguous multi-row acquire). */
  readonly reacquire: string;
  /** `acquire`'s last try: no version guard, and no sleeps completed (see `acquireStatements`). */
  readonly lastTry: string;
  /** Runs' step logs read again after acquires took their locks over (`$1`: run ids). */
  readonly relog: string;
  /** Lets a lock go that a takeover took but could not use (`$1` run, `$2` owner). */
  readonly letGo: string;
  readonly markBusy: string;
  readonly dueCheck: string;
  readonly insertRun: string;
  readonly findRunId: string;
  /** A run's id by `$1` job name and `$2` key, with its wake-up when idle. */
  readonly findRunWake: string;
  readonly failStepAttempt: string;
  readonly savePendingLog: string;
  /** The same, also writing the pass's durable state (`$6`) in the fence. */
  readonly savePendingLogWithState: string;
  /** The run's state and stored wake time. */
  readonly findWake: string;
  /** Puts sleeps the acquire completed (`$3`, `WokenSleep`s) back as they were. */
  readonly unwake: string;
  readonly findLog: string;
  readonly findOwnedCompletedLog: string;
  readonly release: string;
  readonly complete: string;
  readonly fail: string;
  readonly findRecoverable: string;

  constructor(t: WorkflowTables, staleLock: string) {
    super(t);
    const { wf, logs, errors } = t;
    this.fenced = fence(wf, dollar);
    const stateFence = (param: string) => stateFenceWith(wf, dollar, param);
    ({
      acquire: this.acquire,
      reacquire: this.reacquire,
      lastTry: this.lastTry,
      relog: this.relog,
      letGo: this.letGo,
    } = acquireStatements(wf, logs, staleLock));
    this.markBusy = `UPDATE ${wf} SET wake_pending = true
         WHERE id = $1 AND state IN (${LOCKABLE}) AND NOT ${staleLock} RETURNING id`;
    this.dueCheck = `SELECT ${due('$2')} AS due FROM ${wf} WHERE id = $1 AND state IN (${LOCKABLE})`;
    this.insertRun = `INSERT INTO ${wf} (key, job_name, input, max_duration_ms, next_run_at, deadline_at, version,
         attributes)
       VALUES ($1, $2, $3, $4, now(), now() + $5::bigint * interval '1 millisecond', $6, $7)
       ON CONFLICT (job_name, key) DO NOTHING RETURNING id, next_run_at`;
    this.findRunId = `SELECT id FROM ${wf} WHERE job_name = $1 AND key = $2`;
    this.findRunWake = `SELECT id, CASE WHEN state = 'idle' THEN next_run_at END AS next_run_at
       FROM ${wf} WHERE job_name = $1 AND key = $2`;
    this.failStepAttempt = `WITH l AS (
         INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at,
           metadata, error_class, error_message)
         SELECT $1, $3, $5, $4, $11, now(), $6, $7, $8 WHERE ${this.fenced}
         ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
           last_executed_at = now(), metadata = EXCLUDED.metadata, error_class = EXCLUDED.error_class,
           error_message = EXCLUDED.error_message, updated_at = now()
         WHERE l.state <> 'completed'
         RETURNING id)
       INSERT INTO ${errors} (workflow_id, execution_log_id, step_name, attempt, error_class,
         error_message, backtrace, context)
       SELECT $1, l.id, $3, $4, $7, $8, $9, $10 FROM l RETURNING execution_log_id AS id`;
    const savePending = (withState: boolean) => `${withState ? `WITH ${stateFence('$6')} ` : ''}
       INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, metadata)
       SELECT $1, $3, 'pending', $4, now(), now(), $5 ${withState ? 'FROM f' : `WHERE ${this.fenced}`}
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET attempts = EXCLUDED.attempts, last_executed_at = now(),
         metadata = EXCLUDED.metadata, updated_at = now()
       WHERE l.state <> 'completed'
       RETURNING id`;
    this.savePendingLog = savePending(false);
    this.savePendingLogWithState = savePending(true);
    this.findWake = `SELECT state, next_run_at FROM ${wf} WHERE id = $1`;
    this.unwake = `UPDATE ${logs} l SET state = 'pending', attempts = v.attempts - 1, result = NULL,
         completed_at = NULL, last_executed_at = v."lastExecutedAt"::timestamptz,
         updated_at = v."updatedAt"::timestamptz
       FROM json_to_recordset($3::json) AS v(id bigint, attempts int, "lastExecutedAt" text, "updatedAt" text)
       WHERE l.id = v.id AND l.workflow_id = $1 AND l.state = 'completed' AND l.attempts = v.attempts
         AND ${this.fenced}
       RETURNING l.id`;
    this.findLog = `SELECT id, step_name, state, attempts, result, metadata FROM ${logs}
       WHERE workflow_id = $1 AND step_name = $2`;
    this.findOwnedCompletedLog = `SELECT l.id::text AS id, l.step_name, l.state, l.attempts, l.result, l.metadata
       FROM ${logs} l JOIN ${wf} w ON w.id = l.workflow_id
       WHERE l.workflow_id = $1 AND w.locked_by = $2 AND l.step_name = $3 AND l.state = 'completed'`;
    // NOTE: an idle run wakes at its deadline at the latest (no timer: at its deadline), so a run
    // whose deadline passed while no worker was alive is an overdue run the sweeper finds.
    // NOTE: a stalling release (`$3` = 'stalled') marks the failed step log whose failure escaped
    // the workflow method (`$12`) with `stalls_run`, and unmarks any other: `client.retry` re-runs
    // only the marked step, never a failure the workflow caught (that is the run's history).
    this.release = `WITH w AS (
         UPDATE ${wf} SET state = $3::text,
           next_run_at = CASE WHEN $3::text = 'idle' AND wake_pending THEN now()
             WHEN $3::text = 'idle' THEN LEAST($4::timestamptz, deadline_at) ELSE $4::timestamptz END,
           wake_pending = false, locked_at = NULL, locked_by = NULL, attempt = $5, retry_counts = $6,
           context = COALESCE($7::jsonb, context), history = ${historyWrite('$13')},
           updated_at = now()
         WHERE id = $1 AND locked_by = $2
         RETURNING id, next_run_at),
       e AS (
         INSERT INTO ${errors} (workflow_id, step_name, attempt, error_class, error_message, backtrace, context)
         SELECT w.id, NULL, $5, $8, $9, $10, $11 FROM w WHERE $8::text IS NOT NULL),
       s AS (
         UPDATE ${logs} SET metadata = CASE WHEN step_name = $12::text
             THEN metadata || '{"stalls_run": true}'::jsonb ELSE metadata - 'stalls_run' END
         WHERE workflow_id IN (SELECT id FROM w) AND $3::text = 'stalled' AND state = 'failed'
           AND (step_name = $12::text OR metadata ? 'stalls_run'))
       SELECT next_run_at FROM w`;
    const wakeParent = parentWakeCtes(wf, logs);
    const wokenParent = `SELECT c.id, ${WOKEN_COLUMNS}
       FROM c LEFT JOIN k ON true`;
    this.complete = `WITH w AS (
         UPDATE ${wf} SET state = 'completed', result = $3, completed_at = now(), finished_at = now(), next_run_at = NULL,
           wake_pending = false, locked_at = NULL, locked_by = NULL, context = COALESCE($4::jsonb, context),
           history = ${historyWrite('$5')}, updated_at = now()
         WHERE id = $1 AND locked_by = $2 RETURNING id, parent_execution_log_id),
       ${wakeParent},
       c AS (
         ${completionLog(logs, '')}
         RETURNING id)
       ${wokenParent}`;
    // NOTE: the UPDATE is the fence (it locks the row); the error row follows it, so no statement
    // share-locks the row and then updates it (two such statements would deadlock).
    this.fail = `WITH w AS (
         UPDATE ${wf} SET state = 'failed', finished_at = now(), next_run_at = NULL, wake_pending = false,
           locked_at = NULL, locked_by = NULL, attempt = $3, context = COALESCE($8::jsonb, context),
           history = ${historyWrite('$9')}, updated_at = now()
         WHERE id = $1 AND locked_by = $2 RETURNING id, parent_execution_log_id),
       e AS (
         INSERT INTO ${errors} (workflow_id, step_name, attempt, error_class, error_message, backtrace, context)
         SELECT w.id, NULL, $3, $4, $5, $6, $7 FROM w RETURNING id),
       ${wakeParent},
       c AS (
         INSERT INTO ${logs} (workflow_id, step_name, state, attempts, started_at, last_executed_at,
           completed_at, metadata)
         SELECT w.id, '$workflow_failure$' || e.id, 'completed', 1, now(), now(), now(),
           jsonb_build_object('error_log_id', e.id)
         FROM w, e RETURNING id)
       ${wokenParent}`;
    this.findRecoverable = `(SELECT id, next_run_at AS wake, false AS stale FROM ${wf}
          WHERE state = 'idle' AND next_run_at <= $3::timestamptz - $1 * interval '1 millisecond'
          ORDER BY next_run_at LIMIT $2)
       UNION ALL
       (SELECT id, locked_at AS wake, true AS stale FROM ${wf}
          WHERE state = 'running' AND ${staleLock}
          ORDER BY locked_at LIMIT $2)
       UNION ALL
       (SELECT id, COALESCE(locked_at, next_run_at) AS wake, locked_by IS NOT NULL AS stale FROM ${wf}
          WHERE state = 'compensating' AND next_run_at <= $3::timestamptz - $1 * interval '1 millisecond'
            AND ${staleLock}
          ORDER BY next_run_at LIMIT $2)`;
  }
}

/**
 * The new value of `history` for a {@link HistoryWrite} bound to `param`: unchanged (NULL), the
 * whole array, or the stored array with `append` added when it has the `at` entries the pass read
 * (always, under the pass's lock; otherwise the stored history is kept).
 */
export function historyWrite(param: string): string {
  const v = `${param}::jsonb`;
  return `CASE WHEN ${v} IS NULL THEN history WHEN jsonb_typeof(${v}) = 'array' THEN ${v}
    WHEN jsonb_array_length(COALESCE(history, '[]'::jsonb)) = (${v}->>'at')::int
      THEN COALESCE(history, '[]'::jsonb) || (${v}->'append') ELSE history END`;
}

/**
 * The upsert of the `$workflow_completion$` log of the runs the CTE `w` completed, for a CTE's
 * body (its lines after the first indented by `indent` more).
 */
export function completionLog(logs: string, indent: string): string {
  return `INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, completed_at)
         ${indent}SELECT id, '$workflow_completion$', 'completed', 1, now(), now(), now() FROM w
         ${indent}ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = l.attempts + 1,
           ${indent}completed_at = now(), updated_at = now()`;
}
