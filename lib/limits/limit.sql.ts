import type { RunLimitWait } from './limit-info.interface.js';

/** Quoted, schema-qualified names of the limit tables and functions. */
export interface LimitTables {
  readonly limits: string;
  readonly keys: string;
  readonly slots: string;
  readonly acquireFn: string;
  readonly releaseFn: string;
  readonly wakeFn: string;
  readonly restampFn: string;
}

/** The limit tables of `schema` (a name validated by the module options). */
export function limitTables(schema: string): LimitTables {
  const s = `"${schema}"`;
  return {
    limits: `${s}.chrono_forge_limits`,
    keys: `${s}.chrono_forge_limit_keys`,
    slots: `${s}.chrono_forge_limit_slots`,
    acquireFn: `${s}.chrono_forge_limit_acquire`,
    releaseFn: `${s}.chrono_forge_limit_release`,
    wakeFn: `${s}.chrono_forge_limit_wake`,
    restampFn: `${s}.chrono_forge_limit_restamp`,
  };
}

/**
 * Holder of a singleton slot (`@Workflow({ singleton: { mode: 'queue' } })`): unlike every other
 * slot it is kept across passes, and freed when the run leaves idle/running.
 */
export const SINGLETON_HOLDER = '$singleton';

/** Most keys one limit sweep looks at. */
export const SWEEP_BATCH = 200;

/** SQLSTATE the acquire function raises for a limit nobody declared. */
export const UNKNOWN_LIMIT_SQLSTATE = 'CFL01';

/**
 * How a release frees a run's rows: `step` the held slots of the given holders (a step's body
 * ended), `pass` every held slot of the run and the waits this pass did not renew (the pass ended
 * and the run goes on), `end` everything of the run (it completed, failed or was cancelled).
 */
export type ReleaseMode = 'step' | 'pass' | 'end';

/**
 * SQL expression releasing limit rows of run `run` (an SQL expression, e.g. the fenced row's `id`)
 * for pass `owner` / holders `holders` (SQL parameters such as `$2`, `$9::text[]`). Evaluates to
 * the number of waiting runs woken. Call it only from a row that proves the pass still owns the run
 * (the fence), so a superseded pass frees nothing.
 */
export function releaseCall(
  t: LimitTables,
  run: string,
  owner: string,
  holders: string,
  mode: ReleaseMode,
): string {
  return `${t.releaseFn}(${run}, ${owner}, ${holders}, '${mode}')`;
}

/** SQL: the waits of run `$1`, with the live waiters ahead of each. */
export function runWaitsSql(t: LimitTables, wf: string): string {
  return `SELECT q.name, q.key, q.holder, q.queued_at, (SELECT count(*) FROM ${t.slots} o
       JOIN ${wf} w ON w.id = o.run_id AND w.state IN ('idle', 'running')
       WHERE o.name = q.name AND o.key = q.key AND o.state = 'waiting'
         AND (o.priority, coalesce(o.ord, o.id)) < (q.priority, coalesce(q.ord, q.id)))::int AS ahead
     FROM ${t.slots} q WHERE q.run_id = $1 AND q.state = 'waiting' ORDER BY q.name, q.key`;
}

/** A row of {@link runWaitsSql}. */
export interface RunWaitRow {
  name: string;
  key: string;
  holder: string;
  queued_at: Date;
  ahead: number;
}

/** The public form of a {@link RunWaitRow}. */
export function toRunLimitWait(r: RunWaitRow): RunLimitWait {
  const reason = `waiting on limit ${r.name}${r.key === '' ? '' : ` (key ${JSON.stringify(r.key)})`}`;
  return {
    limit: r.name,
    key: r.key,
    holder: r.holder,
    ahead: r.ahead,
    since: r.queued_at,
    reason,
  };
}

/** The statements of the limit store, built once per schema. */
export class LimitStatements {
  /** Acquire, fenced by a share lock on the run's row (the run is flagged `limited` already). */
  readonly acquire: string;
  /** Acquire, fenced by the UPDATE that flags the run `limited` (once per pass). */
  readonly acquireFlagging: string;
  readonly release: string;
  readonly declare: string;
  readonly setOverride: string;
  readonly resetOverride: string;
  readonly find: string;
  readonly findAll: string;
  readonly rowsOf: string;
  readonly waitsOfRun: string;
  readonly wakeName: string;
  readonly sweepCandidates: string;
  readonly sweepStart: string;
  readonly lockKey: string;
  readonly wakeKey: string;
  readonly restamp: string;

  constructor(t: LimitTables, wf: string, logs: string) {
    // NOTE: the run's row is locked first (the fence: this pass still owns the run), then the
    // function locks the keys: the same order as a release inside a pass-ending statement. The
    // first acquire of a pass fences with the UPDATE that flags the run `limited` (which arms the
    // trigger freeing its slots when its lock leaves the pass); later ones with a share lock.
    // `$7`, when given, names a log recorded on admission (in the same statement).
    const acquire = (fence: string) => `WITH f AS (${fence}),
       a AS (SELECT a.* FROM f,
         LATERAL ${t.acquireFn}(f.id, $2, $3, $4 + f.priority, $5::text[], $6::text[]) a),
       m AS (INSERT INTO ${logs} (workflow_id, step_name, state, attempts, started_at,
           last_executed_at, completed_at)
         SELECT $1, $7::text, 'completed', 1, now(), now(), now() FROM a
         WHERE a.admitted AND $7::text IS NOT NULL
         ON CONFLICT (workflow_id, step_name) DO NOTHING)
       SELECT a.*, a.granted_at::text AS granted_text FROM a`;
    this.acquireFlagging = acquire(
      `UPDATE ${wf} SET limited = true WHERE id = $1 AND locked_by = $3 RETURNING id, priority`,
    );
    this.acquire = acquire(
      `SELECT id, priority FROM ${wf} WHERE id = $1 AND locked_by = $3 FOR SHARE`,
    );
    const fence = `(SELECT id FROM ${wf} WHERE id = $1 AND locked_by = $3 FOR SHARE) f`;
    this.release = `SELECT ${releaseCall(t, 'f.id', '$3', '$2::text[]', 'step')} AS woken
       FROM ${fence}`;
    this.declare = `INSERT INTO ${t.limits} AS l (name, declared) SELECT * FROM
         unnest($1::text[], $2::jsonb[])
       ON CONFLICT (name) DO UPDATE SET declared = EXCLUDED.declared, updated_at = now()
       WHERE l.declared IS DISTINCT FROM EXCLUDED.declared`;
    this.setOverride = `INSERT INTO ${t.limits} AS l (name, override) VALUES ($1, $2::jsonb)
       ON CONFLICT (name) DO UPDATE SET override = EXCLUDED.override, updated_at = now()`;
    this.resetOverride = `UPDATE ${t.limits} SET override = NULL, updated_at = now()
       WHERE name = $1 RETURNING name`;
    const cols = `name, declared, override`;
    this.find = `SELECT ${cols} FROM ${t.limits} WHERE name = $1`;
    this.findAll = `SELECT ${cols} FROM ${t.limits} ORDER BY name`;
    this.rowsOf = `SELECT name, key, run_id::text AS run_id, holder, state, owner, priority,
         queued_at, acquired_at
       FROM ${t.slots} WHERE name = ANY ($1::text[]) ORDER BY name, key, state, priority, coalesce(ord, id)`;
    this.waitsOfRun = runWaitsSql(t, wf);
    this.wakeName = `SELECT coalesce(sum(${t.wakeFn}(k.name, k.key)), 0)::int AS woken
       FROM (SELECT name, key FROM ${t.slots} WHERE name = $1 AND state = 'waiting'
             GROUP BY name, key ORDER BY key COLLATE "C") k`;
    this.lockKey = `SELECT 1 FROM ${t.keys} WHERE name = $1 AND key = $2 FOR UPDATE`;
    this.wakeKey = `SELECT ${t.wakeFn}($1, $2) AS woken`;
    // A late rate grant (`$3`, exact text) moves to now if the windows have room, else is given back.
    this.restamp = `SELECT ${t.restampFn}($1, $2, $3::timestamptz) AS moved`;
    // `$1`, `$2`: the (name, key) after which this sweep goes on (see LimitStore.sweep).
    this.sweepStart = `SELECT name, key FROM ${t.slots} ORDER BY random() LIMIT 1`;
    this.sweepCandidates = `SELECT DISTINCT name, key FROM ${t.slots} q
       WHERE (q.name, q.key) > ($1::text, $2::text)
         AND (q.state = 'waiting' OR NOT EXISTS (SELECT 1 FROM ${wf} w
           WHERE w.id = q.run_id AND (w.locked_by = q.owner
             OR (q.holder = '${SINGLETON_HOLDER}' AND w.state IN ('idle', 'running')))))
       ORDER BY name, key LIMIT ${SWEEP_BATCH}`;
  }

  /**
   * Deletes the dead rows of key (`$1`, `$2`): held slots whose pass no longer owns its run (the
   * run's lock was released, taken over, or is stale by `staleLock`: free, older than
   * `maxDuration`, or held by a worker whose heartbeat stopped), and waits of runs that are no
   * longer idle or running. Run it while holding the key's row lock ({@link lockKey}).
   */
  reap(t: LimitTables, wf: string, staleLock: string): string {
    return `DELETE FROM ${t.slots} q WHERE q.name = $1 AND q.key = $2 AND (
         (q.state = 'held' AND q.holder <> '${SINGLETON_HOLDER}' AND NOT EXISTS (SELECT 1 FROM ${wf} w
            WHERE w.id = q.run_id AND w.locked_by = q.owner AND NOT ${staleLock}))
         OR (q.state = 'held' AND q.holder = '${SINGLETON_HOLDER}' AND NOT EXISTS (SELECT 1
            FROM ${wf} w WHERE w.id = q.run_id AND w.state IN ('idle', 'running')))
         OR (q.state = 'waiting' AND NOT EXISTS (SELECT 1 FROM ${wf} w
            WHERE w.id = q.run_id AND w.state IN ('idle', 'running'))))
       RETURNING q.state`;
  }
}
