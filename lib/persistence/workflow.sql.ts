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

/** Writes parameter `n` (1-based) of a statement: `$n`, or a literal. */
type StatementParam = (n: number) => string;

/** Parameters as placeholders (`$n`). */
const dollar: StatementParam = (n) => `$${n}`;

/**
 * The column of {@link WorkflowStatements.completedStepThenCommit} whose division by zero marks a
 * refused checkpoint.
 */
export const REFUSED_CHECKPOINT_COLUMN = 'cf_fenced';

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
  /** `acquire`, also taking back a lock pass `$2` itself holds (after an ambiguous multi-row acquire). */
  readonly reacquire: string;
  /** Several acquires in one statement: arrays `$1` run ids, `$2` owners, `$3` now per item. */
  readonly acquireMany: string;
  readonly markBusy: string;
  readonly dueCheck: string;
  readonly insertRun: string;
  readonly findRunId: string;
  /** A run's id by `$1` job name and `$2` key, with its wake-up when idle. */
  readonly findRunWake: string;
  /** Several runs in one statement: arrays `$1`…`$7` as `insertRun`'s parameters. */
  readonly insertRuns: string;
  readonly insertCompletedStep: string;
  readonly upsertCompletedStep: string;
  /** Several first attempts in one statement: arrays `$1`…`$7` (run, owner, step, attempts, result, metadata, started). */
  readonly insertCompletedSteps: string;
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
  /**
   * Several completions of runs with no parent in one statement: arrays `$1` run ids, `$2` owners,
   * `$3` results, `$4` contexts, `$5` history writes. Returns the ids it locked (`done` false) and
   * the ids it completed (`done` true).
   */
  readonly completeMany: string;
  readonly fail: string;
  readonly findRecoverable: string;

  /**
   * The statement recording a completed step that a transactional step sends with its `COMMIT`:
   * the checkpoint of `completedStep`, returning one row (`id`) when it wrote, and failing with
   * 22012 (division by zero) when it is refused, so a `COMMIT` after it in the same query string
   * never runs. With `values` (SQL literals of `$1`..`$8`), the text with those in place of its
   * parameters; without, the text with its parameters (for a prepared statement).
   */
  readonly checkedCompletedStep: (
    fresh: boolean,
    withState: boolean,
    values?: readonly string[],
  ) => string;

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
    const fence = (p: StatementParam) =>
      `EXISTS (SELECT 1 FROM ${wf} WHERE id = ${p(1)} AND locked_by = ${p(2)} FOR SHARE)`;
    this.fenced = fence(dollar);
    // The same fence that also writes the pass's durable state (`$<n>`) with the checkpoint.
    const stateFenceWith = (p: StatementParam, param: string) =>
      `f AS (UPDATE ${wf} SET context = ${param}::jsonb WHERE id = ${p(1)} AND locked_by = ${p(2)} RETURNING id)`;
    const stateFence = (param: string) => stateFenceWith(dollar, param);
    // NOTE: a job that fires before the run's next_run_at (a superseded timer, e.g. a merge safety
    // wake that the poller pushed back) does not replay the run: the pass would only halt again.
    const due = (param: string) => `(state = 'running' OR wake_pending OR next_run_at IS NULL
      OR next_run_at <= ${param}::timestamptz + ${NOT_DUE_TOLERANCE_MS} * interval '1 millisecond')`;
    const lockColumns = `state = CASE WHEN state = 'compensating' THEN state ELSE 'running' END,
             locked_at = now(), started_at = COALESCE(started_at, now()), wake_pending = false, updated_at = now()`;
    const runColumns = `key, job_name, input, context, state, attempt, retry_counts, max_duration_ms,
             deadline_at, history, version, compensation, cancel_reason,
             parent_execution_log_id IS NOT NULL AS has_parent`;
    const withLogs = `SELECT w.*, COALESCE((SELECT json_agg(json_build_object('id', l.id::text, 'step_name', l.step_name,
             'state', l.state, 'attempts', l.attempts, 'result', l.result, 'metadata', l.metadata))
           FROM ${logs} l WHERE l.workflow_id = w.id AND l.step_name NOT LIKE ${REPEAT_TICK_PATTERN}), '[]'::json) AS logs
         FROM w`;
    // NOTE: an acquire alone also completes the run's due plain sleeps (`$4`, `$5`: see
    // dueSleeps); a multi-row or a taking-back acquire does not (the replay completes them).
    this.acquire = `WITH w AS (
           UPDATE ${wf} SET ${lockColumns}, locked_by = $2
           WHERE id = $1 AND state IN (${LOCKABLE}) AND ${staleLock} AND ${due('$3')}
           RETURNING id, ${runColumns}),
         ${dueSleeps(logs)}
         SELECT w.*, (SELECT json_agg(json_build_object('id', s.id::text, 'attempts', s.attempts,
             'lastExecutedAt', s.last_executed_at::text, 'updatedAt', s.updated_at::text)) FROM s) AS woken,
           ${withLogs.slice('SELECT w.*, '.length)}`;
    // A failed multi-row acquire may have committed (its reply lost): the lock it took is this
    // pass's own (owners are unique per pass), so this retry takes it back rather than find it busy.
    this.reacquire = `WITH w AS (
           UPDATE ${wf} SET ${lockColumns}, locked_by = $2
           WHERE id = $1 AND state IN (${LOCKABLE}) AND (${staleLock} OR locked_by = $2) AND ${due('$3')}
           RETURNING id, ${runColumns})
         ${withLogs}`;
    // NOTE: the rows are locked in id order and a row another transaction holds is skipped (its
    // caller then acquires alone, waiting as it always did): two such statements never deadlock.
    // NO KEY UPDATE, as the UPDATE takes: a log insert's foreign-key check (KEY SHARE) does not
    // make a row skipped.
    // A run asked for twice goes to its first owner; the second caller acquires alone (busy).
    this.acquireMany = `WITH v AS (
           SELECT DISTINCT ON (rid) rid, rowner, rnow
           FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(rid, rowner, rnow, ord)
           ORDER BY rid, ord),
         c AS (SELECT id FROM ${wf} WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED),
         w AS (
           UPDATE ${wf} SET ${lockColumns}, locked_by = v.rowner
           FROM v WHERE id = v.rid AND id IN (SELECT id FROM c) AND state IN (${LOCKABLE})
             AND ${staleLock} AND ${due('v.rnow')}
           RETURNING id, ${runColumns}, locked_by AS acquired_by)
         ${withLogs}`;
    this.markBusy = `UPDATE ${wf} SET wake_pending = true
         WHERE id = $1 AND state IN (${LOCKABLE}) AND NOT ${staleLock} RETURNING id`;
    this.dueCheck = `SELECT ${due('$2')} AS due FROM ${wf} WHERE id = $1 AND state IN (${LOCKABLE})`;
    this.insertRun = `INSERT INTO ${wf} (key, job_name, input, max_duration_ms, next_run_at, deadline_at, version,
         attributes)
       VALUES ($1, $2, $3, $4, now(), now() + $5::bigint * interval '1 millisecond', $6, $7)
       ON CONFLICT (job_name, key) DO NOTHING RETURNING id, next_run_at`;
    // NOTE: a key twice in the statement is inserted once, with its first caller's row (DO NOTHING
    // skips the later ones). Rows go in key order: two such statements (of this process or
    // another) that both carry keys a and b wait on each other's uncommitted rows in one order,
    // never in a cycle.
    this.insertRuns = `INSERT INTO ${wf} (key, job_name, input, max_duration_ms, next_run_at, deadline_at, version,
         attributes)
       SELECT v.key, v.job_name, v.input, v.max_duration_ms, now(),
         now() + v.timeout_ms * interval '1 millisecond', v.version, v.attributes
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::bigint[], $6::text[], $7::jsonb[])
         WITH ORDINALITY AS v(key, job_name, input, max_duration_ms, timeout_ms, version, attributes, ord)
       ORDER BY v.job_name, v.key, v.ord
       ON CONFLICT (job_name, key) DO NOTHING RETURNING id, job_name, key, next_run_at`;
    this.findRunId = `SELECT id FROM ${wf} WHERE job_name = $1 AND key = $2`;
    this.findRunWake = `SELECT id, CASE WHEN state = 'idle' THEN next_run_at END AS next_run_at
       FROM ${wf} WHERE job_name = $1 AND key = $2`;
    // The INSERT of a completed step's log (`$1`..`$7`, see `completeStep`), fenced by the lock or
    // by the state write `f`, and its upsert for a step that has a log already (a retried attempt).
    const insertCompletedWith = (p: StatementParam, withState: boolean) => `
       INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at,
         last_executed_at, completed_at, result, metadata)
       SELECT ${p(1)}, ${p(3)}, 'completed', ${p(4)}, ${p(7)}, now(), now(), ${p(5)}, ${p(6)} ${withState ? 'FROM f' : `WHERE ${fence(p)}`}`;
    const upsertCompletedWith = (
      p: StatementParam,
      withState: boolean,
    ) => `${insertCompletedWith(p, withState)}
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = EXCLUDED.attempts,
         last_executed_at = now(), completed_at = now(), result = EXCLUDED.result,
         metadata = EXCLUDED.metadata, updated_at = now()
       WHERE l.state <> 'completed'
       RETURNING id`;
    const completedWith = (p: StatementParam, fresh: boolean, withState: boolean) =>
      fresh
        ? `${insertCompletedWith(p, withState)} RETURNING id`
        : upsertCompletedWith(p, withState);
    const insertCompleted = (withState: boolean) =>
      `${withState ? `WITH ${stateFence('$8')} ` : ''}${completedWith(dollar, true, withState)}`;
    const upsertCompleted = (withState: boolean) =>
      `${withState ? `WITH ${stateFence('$8')} ` : ''}${completedWith(dollar, false, withState)}`;
    this.insertCompletedStep = insertCompleted(false);
    this.insertCompletedStepWithState = insertCompleted(true);
    // NOTE: the runs' rows are share-locked first, in id order, skipping a row another transaction
    // holds: the statement never waits on a row lock while holding others (a wait there could
    // deadlock with a child's completion, which locks the child then its parent, or with any
    // multi-row operator update); the caller writes a skipped run's checkpoint alone. Each row is
    // fenced by its own run's lock owner. A row already there (a concurrent pass recorded it
    // first) is skipped, as the single INSERT's unique violation is. Output: one row per locked
    // run (`id` NULL), then one per log written.
    this.insertCompletedSteps = `WITH f AS MATERIALIZED (
           SELECT id, locked_by FROM ${wf} WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE SKIP LOCKED),
         i AS (
           INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at,
             last_executed_at, completed_at, result, metadata)
           SELECT v.workflow_id, v.step_name, 'completed', v.attempts, v.started_at, now(), now(), v.result, v.metadata
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::jsonb[], $6::jsonb[], $7::timestamptz[])
             AS v(workflow_id, owner, step_name, attempts, result, metadata, started_at)
           JOIN f ON f.id = v.workflow_id AND f.locked_by = v.owner
           ORDER BY v.workflow_id, v.step_name
           ON CONFLICT (workflow_id, step_name) DO NOTHING
           RETURNING id, workflow_id, step_name)
       SELECT NULL::text AS id, id::text AS workflow_id, NULL::text AS step_name, locked_by AS owner FROM f
       UNION ALL SELECT i.id::text, i.workflow_id::text, i.step_name, f.locked_by FROM i JOIN f ON f.id = i.workflow_id`;
    this.upsertCompletedStep = upsertCompleted(false);
    this.upsertCompletedStepWithState = upsertCompleted(true);
    // NOTE: sent with `COMMIT` in one simple-protocol query string, as a prepared statement's
    // EXECUTE or with literals in place of its parameters. A refused checkpoint (lock lost, or a
    // completed log already there) must stop the COMMIT after it, so the statement fails when it
    // wrote no row: a division by the count of written rows, which the planner cannot fold (a
    // sub-select over a data-modifying CTE runs at execution time).
    const checked = (fresh: boolean, withState: boolean, p: StatementParam) => {
      const state = withState ? `${stateFenceWith(p, p(8))}, ` : '';
      return `WITH ${state}c AS (${completedWith(p, fresh, withState)})
       SELECT (SELECT id FROM c) AS id, 1 / (SELECT count(*)::int FROM c) AS ${REFUSED_CHECKPOINT_COLUMN}`;
    };
    const prepared = [
      [checked(false, false, dollar), checked(false, true, dollar)],
      [checked(true, false, dollar), checked(true, true, dollar)],
    ];
    this.checkedCompletedStep = (fresh, withState, values) =>
      values
        ? checked(fresh, withState, (n) => values[n - 1])
        : prepared[Number(fresh)][Number(withState)];
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
    // NOTE: the rows are locked first, in id order, skipping a row another transaction holds: the
    // statement never waits on a row lock while holding others (no deadlock with bulk operator
    // actions, cleanup or a child's completion); the caller completes a skipped run alone. A run
    // with a parent is left to `complete`, which also wakes the parent. Output: one row per locked
    // run (`done` false), then one per run completed (`done` true).
    this.completeMany = `WITH v AS (
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::jsonb[], $4::jsonb[], $5::jsonb[])
             AS v(rid, rowner, rresult, rcontext, rhistory)),
         o AS MATERIALIZED (SELECT id FROM ${wf} WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED),
         w AS (
           UPDATE ${wf} SET state = 'completed', result = v.rresult, completed_at = now(), finished_at = now(),
             next_run_at = NULL, wake_pending = false, locked_at = NULL, locked_by = NULL,
             context = COALESCE(v.rcontext, context), history = ${historyWrite('v.rhistory')}, updated_at = now()
           FROM v WHERE id = v.rid AND locked_by = v.rowner AND parent_execution_log_id IS NULL
             AND id IN (SELECT id FROM o)
           RETURNING id, v.rowner AS owner),
         c AS (
           INSERT INTO ${logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, completed_at)
           SELECT id, '$workflow_completion$', 'completed', 1, now(), now(), now() FROM w
           ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = l.attempts + 1,
             completed_at = now(), updated_at = now()
           RETURNING workflow_id)
       SELECT id::text AS id, false AS done, NULL::text AS owner FROM o
       UNION ALL SELECT w.id::text, true, w.owner FROM c JOIN w ON w.id = c.workflow_id`;
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
