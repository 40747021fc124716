import { createHash } from 'node:crypto';
import { serializeValue, type StoredValue } from '../util/serialization.util.js';
import { parentWakeCtes, WOKEN_COLUMNS } from './parent-wake.sql.js';

/** A job may start a pass this long before the run's `next_run_at` (clock skew, early timers). */
export const NOT_DUE_TOLERANCE_MS = 5_000;

/** Repeat tick logs (`durably_repeat$<name>$<ms>`) are read on demand, never with the pass. */
export const REPEAT_TICK_PATTERN = `'durably\\_repeat$%$%'`;

/**
 * States in which a pass may take a run's lock: between passes (`idle`), during one (`running`),
 * and while it rolls back (`compensating`, which a pass keeps).
 */
const LOCKABLE = `'idle', 'running', 'compensating'`;

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

/** Quoted, schema-qualified names of the engine's tables. */
export interface WorkflowTables {
  readonly wf: string;
  readonly logs: string;
  readonly errors: string;
  readonly signals: string;
  readonly workers: string;
}

/** The tables of `schema` (a name validated by the options; quoted here). */
export function workflowTables(schema: string): WorkflowTables {
  const s = `"${schema}"`;
  return {
    wf: `${s}.chrono_forge_workflows`,
    logs: `${s}.chrono_forge_execution_logs`,
    errors: `${s}.chrono_forge_error_logs`,
    signals: `${s}.chrono_forge_signals`,
    workers: `${s}.chrono_forge_workers`,
  };
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
 * How far a run's deadline must be past the acquiring pass's clock for {@link dueSleeps} to
 * complete its sleeps: a pass that finds the run past its deadline ends it instead of replaying it
 * (the sleep must then stay as it was), and the pass checks that a little after its acquire.
 */
export const WAKE_DEADLINE_MARGIN_MS = 60_000;

/** What the normal completion of a sleep stores as its result. */
export const SLEEP_RESULT: StoredValue = serializeValue(true);

/**
 * The canonical form of a stored `wake_at` (`Date.prototype.toISOString`, years 0000–9999): such
 * strings compare as text in time order, and parse back to themselves.
 */
const ISO_INSTANT = `'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$'`;

/**
 * The acquire's CTEs `d` and `s` (after the lock CTE `w`). `d` finds the run's plain sleeps whose
 * stored wake time is due at the pass's clock (`$5`, an ISO instant), with the timestamps they have;
 * `s` completes them exactly as the replay's `TimerRunner.sleepUntil` would (attempts + 1, result
 * `true`, metadata unchanged, the upsert's timestamps), so the wake-up pass issues no statement for
 * them. The statement's log read does not see these writes: `s` returns them (ids, new attempts,
 * old timestamps) for the store to apply to the logs read, and to put back a sleep the replay does
 * not reach. Only when the replay surely reaches them: a run this worker serves and replays as is
 * (`$4`, {@link WakeEligibility}: no run-level limits, no pass interceptors, its version), that
 * goes forward (`running`, not rolling back, its deadline not near); a plain sleep is a pending
 * `wait$` log whose metadata is exactly its canonical `wake_at` (signal waits, wait conditions,
 * repeat ticks are never touched).
 */
function dueSleeps(logs: string): string {
  return `d AS (
           SELECT l.id, l.last_executed_at, l.updated_at FROM w JOIN ${logs} l ON l.workflow_id = w.id
           WHERE w.state = 'running' AND w.compensation IS NULL
             AND $4::jsonb ? w.job_name
             AND (w.version IS NULL OR w.version = $4::jsonb ->> w.job_name)
             AND (w.deadline_at IS NULL
               OR w.deadline_at > $3::timestamptz + ${WAKE_DEADLINE_MARGIN_MS} * interval '1 millisecond')
             AND l.step_name LIKE 'wait$%' AND l.state = 'pending'
             AND l.metadata - 'wake_at' = '{}'::jsonb AND jsonb_typeof(l.metadata -> 'wake_at') = 'string'
             AND (l.metadata ->> 'wake_at') ~ ${ISO_INSTANT}
             AND (l.metadata ->> 'wake_at') COLLATE "C" <= $5::text COLLATE "C"),
         s AS (
           UPDATE ${logs} l SET state = 'completed', attempts = l.attempts + 1, last_executed_at = now(),
             completed_at = now(), result = '${JSON.stringify(SLEEP_RESULT)}'::jsonb, updated_at = now()
           FROM d WHERE l.id = d.id AND l.state = 'pending'
           RETURNING l.id, l.attempts, d.last_executed_at, d.updated_at)`;
}

/**
 * The texts of the hot-path statements, built once per store: the step wrapper does not rebuild
 * (and re-hash for its prepared-statement name) a SQL string per step. `$1` is always the run id
 * and `$2` the pass's lock owner where a statement is fenced.
 */
export class WorkflowStatements {
  /** SQL condition: this pass (`$2`) still owns run `$1`. */
  readonly fenced: string;
  readonly acquire: string;
  readonly markBusy: string;
  readonly dueCheck: string;
  readonly insertRun: string;
  readonly findRunId: string;
  readonly insertCompletedStep: string;
  readonly upsertCompletedStep: string;
  /** The same two, also writing the pass's durable state (`$8`) in the fence. */
  readonly insertCompletedStepWithState: string;
  readonly upsertCompletedStepWithState: string;
  readonly failStepAttempt: string;
  readonly savePendingLog: string;
  /** The same, also writing the pass's durable state (`$6`) in the fence. */
  readonly savePendingLogWithState: string;
  /** The run's state and stored wake time. */
  readonly findWake: string;
  /** Puts sleeps the acquire completed (`$3`, {@link WokenSleep}s) back as they were. */
  readonly unwake: string;
  readonly findLog: string;
  readonly findOwnedCompletedLog: string;
  readonly release: string;
  readonly complete: string;
  readonly fail: string;
  readonly findRecoverable: string;

  /** The statement recording a completed step: a first attempt's INSERT or an upsert. */
  completedStep(fresh: boolean, withState: boolean): string {
    if (fresh) return withState ? this.insertCompletedStepWithState : this.insertCompletedStep;
    return withState ? this.upsertCompletedStepWithState : this.upsertCompletedStep;
  }

  constructor(t: WorkflowTables, staleLock: string) {
    const { wf, logs, errors } = t;
    // NOTE: the fence takes a share lock on the run's row: a takeover (an UPDATE of locked_by) waits
    // for a write in flight, and a write that comes after a takeover re-reads the row and finds it
    // moved. A plain EXISTS read would let a stale pass's write commit just after a takeover.
    this.fenced = `EXISTS (SELECT 1 FROM ${wf} WHERE id = $1 AND locked_by = $2 FOR SHARE)`;
    // The same fence that also writes the pass's durable state (`$<n>`) with the checkpoint.
    const stateFence = (param: string) =>
      `f AS (UPDATE ${wf} SET context = ${param}::jsonb WHERE id = $1 AND locked_by = $2 RETURNING id)`;
    // NOTE: a job that fires before the run's next_run_at (a superseded timer, e.g. a merge safety
    // wake that the poller pushed back) does not replay the run: the pass would only halt again.
    const due = (param: string) => `(state = 'running' OR wake_pending OR next_run_at IS NULL
      OR next_run_at <= ${param}::timestamptz + ${NOT_DUE_TOLERANCE_MS} * interval '1 millisecond')`;
    this.acquire = `WITH w AS (
           UPDATE ${wf} SET state = CASE WHEN state = 'compensating' THEN state ELSE 'running' END,
             locked_at = now(), locked_by = $2,
             started_at = COALESCE(started_at, now()), wake_pending = false, updated_at = now()
           WHERE id = $1 AND state IN (${LOCKABLE}) AND ${staleLock} AND ${due('$3')}
           RETURNING id, key, job_name, input, context, state, attempt, retry_counts, max_duration_ms,
             deadline_at, history, version, compensation, cancel_reason),
         ${dueSleeps(logs)}
         SELECT w.*, (SELECT json_agg(json_build_object('id', s.id::text, 'attempts', s.attempts,
             'lastExecutedAt', s.last_executed_at::text, 'updatedAt', s.updated_at::text)) FROM s) AS woken,
           COALESCE((SELECT json_agg(json_build_object('id', l.id::text, 'step_name', l.step_name,
             'state', l.state, 'attempts', l.attempts, 'result', l.result, 'metadata', l.metadata))
           FROM ${logs} l WHERE l.workflow_id = w.id AND l.step_name NOT LIKE ${REPEAT_TICK_PATTERN}), '[]'::json) AS logs
         FROM w`;
    this.markBusy = `UPDATE ${wf} SET wake_pending = true
         WHERE id = $1 AND state IN (${LOCKABLE}) AND NOT ${staleLock} RETURNING id`;
    this.dueCheck = `SELECT ${due('$2')} AS due FROM ${wf} WHERE id = $1 AND state IN (${LOCKABLE})`;
    this.insertRun = `INSERT INTO ${wf} (key, job_name, input, max_duration_ms, next_run_at, deadline_at, version,
         attributes)
       VALUES ($1, $2, $3, $4, now(), now() + $5::bigint * interval '1 millisecond', $6, $7)
       ON CONFLICT (job_name, key) DO NOTHING RETURNING id, next_run_at`;
    this.findRunId = `SELECT id FROM ${wf} WHERE job_name = $1 AND key = $2`;
    const insertCompleted = (withState: boolean) => `${withState ? `WITH ${stateFence('$8')} ` : ''}
       INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at,
         last_executed_at, completed_at, result, metadata)
       SELECT $1, $3, 'completed', $4, $7, now(), now(), $5, $6 ${withState ? 'FROM f' : `WHERE ${this.fenced}`}`;
    const upsertCompleted = (withState: boolean) => `${insertCompleted(withState)}
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = EXCLUDED.attempts,
         last_executed_at = now(), completed_at = now(), result = EXCLUDED.result,
         metadata = EXCLUDED.metadata, updated_at = now()
       WHERE l.state <> 'completed'
       RETURNING id`;
    this.insertCompletedStep = `${insertCompleted(false)} RETURNING id`;
    this.insertCompletedStepWithState = `${insertCompleted(true)} RETURNING id`;
    this.upsertCompletedStep = upsertCompleted(false);
    this.upsertCompletedStepWithState = upsertCompleted(true);
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
         INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, completed_at)
         SELECT id, '$workflow_completion$', 'completed', 1, now(), now(), now() FROM w
         ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = l.attempts + 1,
           completed_at = now(), updated_at = now()
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
