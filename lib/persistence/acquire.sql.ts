import { serializeValue, type StoredValue } from '../util/serialization.util.js';

/** A job may start a pass this long before the run's `next_run_at` (clock skew, early timers). */
export const NOT_DUE_TOLERANCE_MS = 5_000;

/** Repeat tick logs (`durably_repeat$<name>$<ms>`) are read on demand, never with the pass. */
export const REPEAT_TICK_PATTERN = `'durably\\_repeat$%$%'`;

/**
 * States in which a pass may take a run's lock: between passes (`idle`), during one (`running`),
 * and while it rolls back (`compensating`, which a pass keeps).
 */
export const LOCKABLE = `'idle', 'running', 'compensating'`;

/**
 * SQL condition: the run is due at the pass's clock (`now`, a timestamptz parameter or column).
 * NOTE: a job that fires before the run's next_run_at (a superseded timer, e.g. a merge safety
 * wake that the poller pushed back) does not replay the run: the pass would only halt again.
 */
export const due = (
  now: string,
): string => `(state = 'running' OR wake_pending OR next_run_at IS NULL
      OR next_run_at <= ${now}::timestamptz + ${NOT_DUE_TOLERANCE_MS} * interval '1 millisecond')`;

const LOCK_COLUMNS = `state = CASE WHEN state = 'compensating' THEN state ELSE 'running' END,
             locked_at = now(), started_at = COALESCE(started_at, now()), wake_pending = false, updated_at = now()`;

const RUN_COLUMNS = `key, job_name, input, context, state, attempt, retry_counts, max_duration_ms,
             deadline_at, history, version, compensation, cancel_reason,
             parent_execution_log_id IS NOT NULL AS has_parent`;

/** Where and how an acquire's UPDATE takes a run's lock (see {@link takeLock}). */
export interface LockTake {
  /** The new `locked_by`. */
  readonly owner: string;
  /** The rows it updates: `WHERE id = …` (or `FROM … WHERE …`), before the shared conditions. */
  readonly rows: string;
  /** The id of the run a row is (`$1`, or a column of the `FROM` item), for the version guard. */
  readonly run: string;
  /** `false`: no version guard (the caller then reads the logs again after it commits). */
  readonly guard?: boolean;
  /** SQL condition: the lock may be taken (the stale-lock rule, or more). */
  readonly free: string;
  /** The pass's clock, for {@link due}. */
  readonly now: string;
  /** Columns returned after the run's. */
  readonly returning?: string;
}

/**
 * The UPDATE that takes a run's lock, the one shape of every acquire (alone, taking back, multi-row):
 * the run is lockable, its lock `free` and the run due at `now`, and its row is still the version
 * the statement's snapshot saw.
 *
 * NOTE: the version guard. The statement reads the run's logs with its snapshot; its UPDATE may
 * wait for the row and then (READ COMMITTED) apply to a newer version another transaction
 * committed meanwhile: another pass may have taken the free lock, checkpointed a step and let it
 * go. Read as of before, that step's body would run again. A row updated after the snapshot has a
 * new `ctid` (the snapshot's version cannot be pruned while the statement runs), so the guard
 * fails when the UPDATE re-checks the newer row: nothing is taken, and the caller asks again with
 * a new statement (`WorkflowStore.acquire`, whose last try goes without the guard and reads the
 * logs again after; a multi-row item is asked again alone). A lock alone
 * (a checkpoint's fence) makes no new version: that case is `prev_owner`'s (see `acquireStatements`).
 */
export function takeLock(wf: string, t: LockTake): string {
  // NOTE: `IS NOT DISTINCT FROM`, not `=`: with `=` the planner makes it a TID scan's condition,
  // which PostgreSQL minor releases before November 2025 do not re-check on a newer row version
  // (commit dee21ea, "Add missing EPQ recheck for TID Scan"); as a filter it always is.
  const unchanged = `${wf}.ctid IS NOT DISTINCT FROM (SELECT x.ctid FROM ${wf} x WHERE x.id = ${t.run})`;
  return `UPDATE ${wf} SET ${LOCK_COLUMNS}, locked_by = ${t.owner}
           ${t.rows} AND state IN (${LOCKABLE}) AND ${t.free} AND ${due(t.now)}
             ${t.guard === false ? '' : `AND ${unchanged}`}
           RETURNING id, ${RUN_COLUMNS}${t.returning ?? ''}`;
}

/** A run's step logs as one JSON array (`run`: its id), repeat ticks left out. */
const logsJson = (logs: string, run: string): string =>
  `COALESCE((SELECT json_agg(json_build_object('id', l.id::text, 'step_name', l.step_name,
             'state', l.state, 'attempts', l.attempts, 'result', l.result, 'metadata', l.metadata))
           FROM ${logs} l WHERE l.workflow_id = ${run} AND l.step_name NOT LIKE ${REPEAT_TICK_PATTERN}), '[]'::json)`;

/**
 * The acquire's read of the locked runs `w` with their step logs (`logs`), repeat ticks left out.
 * With `wf`, also `prev_owner`: the lock's holder as the statement's snapshot saw it (see
 * {@link acquireStatements}).
 */
export function withLogs(logs: string, wf?: string): string {
  const prev = wf ? `, (SELECT x.locked_by FROM ${wf} x WHERE x.id = w.id) AS prev_owner` : '';
  return `SELECT w.*, ${logsJson(logs, 'w.id')} AS logs${prev}
         FROM w`;
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
 * (`$4`, `WakeEligibility`: no run-level limits, no pass interceptors, its version), that
 * goes forward (`running`, not rolling back, its deadline not near); a plain sleep is a pending
 * `wait$` log whose metadata is exactly its canonical `wake_at` (signal waits, wait conditions,
 * repeat ticks are never touched).
 */
export function dueSleeps(logs: string): string {
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

/** The single-run acquires: alone (also completing due sleeps), and taking back its own lock. */
export function acquireStatements(
  wf: string,
  logs: string,
  staleLock: string,
): { acquire: string; reacquire: string; lastTry: string; relog: string; letGo: string } {
  // NOTE: the logs are read with the statement's snapshot, taken before its UPDATE waited for the
  // row lock of a write in flight: taking over from another pass (`prev_owner`), whose checkpoint
  // held the row then committed, the read misses that checkpoint; `relog` reads them again after.
  const read = withLogs(logs, wf);
  // NOTE: an acquire alone also completes the run's due plain sleeps (`$4`, `$5`: see
  // dueSleeps); a multi-row or a taking-back acquire does not (the replay completes them).
  const acquire = `WITH w AS (
           ${takeLock(wf, { owner: '$2', rows: 'WHERE id = $1', run: '$1', free: staleLock, now: '$3' })}),
         ${dueSleeps(logs)}
         SELECT w.*, (SELECT json_agg(json_build_object('id', s.id::text, 'attempts', s.attempts,
             'lastExecutedAt', s.last_executed_at::text, 'updatedAt', s.updated_at::text)) FROM s) AS woken,
           ${read.slice('SELECT w.*, '.length)}`;
  // A failed multi-row acquire may have committed (its reply lost): the lock it took is this
  // pass's own (owners are unique per pass), so this retry takes it back rather than find it busy.
  const free = `(${staleLock} OR locked_by = $2)`;
  const reacquire = `WITH w AS (
           ${takeLock(wf, { owner: '$2', rows: 'WHERE id = $1', run: '$1', free, now: '$3' })})
         ${read}`;
  // The last try alone, without the version guard: a run whose row other transactions keep
  // updating (a flood of signals) would be refused at every try otherwise. It waits its turn on
  // the row as any UPDATE does; its caller reads the logs again after it committed.
  const lastTry = `WITH w AS (
           ${takeLock(wf, { owner: '$2', rows: 'WHERE id = $1', run: '$1', free: staleLock, now: '$3', guard: false })})
         ${read}`;
  // `$1`: run ids; one row per run: its id and logs.
  const relog = `SELECT r.id::text AS id, ${logsJson(logs, 'r.id')} AS logs
         FROM unnest($1::bigint[]) AS r(id)`;
  // A takeover that could not read the logs again lets the lock go (the run stays as it was: the
  // next try, or the recovery sweep, takes it) rather than hold it until it goes stale.
  const letGo = `UPDATE ${wf} SET locked_by = NULL, locked_at = NULL, updated_at = now()
         WHERE id = $1 AND locked_by = $2`;
  return { acquire, reacquire, lastTry, relog, letGo };
}
