import { takeLock, withLogs } from './acquire.sql.js';
import type { WorkflowTables } from './tables.sql.js';
import { completionLog, historyWrite } from './workflow.sql.js';

/**
 * The multi-row statements of the group commit (see `GroupCommit`): several concurrent callers'
 * writes of one kind in one statement. Each locks the runs' rows in id order, skipping a row
 * another transaction holds (its caller then writes alone, waiting as it always did), so two such
 * statements never deadlock.
 */
export class GroupWriteStatements {
  /** Several acquires in one statement: arrays `$1` run ids, `$2` owners, `$3` now per item. */
  readonly acquireMany: string;
  /** Several runs in one statement: arrays `$1`…`$7` as `insertRun`'s parameters. */
  readonly insertRuns: string;
  /** Several first attempts in one statement: arrays `$1`…`$7` (run, owner, step, attempts, result, metadata, started). */
  readonly insertCompletedSteps: string;
  /**
   * Several completions of runs with no parent in one statement: arrays `$1` run ids, `$2` owners,
   * `$3` results, `$4` contexts, `$5` history writes. Returns the ids it locked (`done` false) and
   * the ids it completed (`done` true).
   */
  readonly completeMany: string;

  constructor(t: WorkflowTables, staleLock: string) {
    const { wf, logs } = t;
    // NOTE: the rows are locked in id order and a row another transaction holds is skipped (its
    // caller then acquires alone, waiting as it always did): two such statements never deadlock.
    // NO KEY UPDATE, as the UPDATE takes: a log insert's foreign-key check (KEY SHARE) does not
    // make a row skipped.
    // A run asked for twice goes to its first owner; the second caller acquires alone (busy).
    const rows = 'FROM v WHERE id = v.rid AND id IN (SELECT id FROM c)';
    const take = { owner: 'v.rowner', rows, run: 'v.rid', free: staleLock, now: 'v.rnow' };
    this.acquireMany = `WITH v AS (
           SELECT DISTINCT ON (rid) rid, rowner, rnow
           FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(rid, rowner, rnow, ord)
           ORDER BY rid, ord),
         c AS (SELECT id FROM ${wf} WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED),
         w AS (
           ${takeLock(wf, { ...take, returning: ', locked_by AS acquired_by' })})
         ${withLogs(logs, wf)}`;
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
           ${completionLog(logs, '  ')}
           RETURNING workflow_id)
       SELECT id::text AS id, false AS done, NULL::text AS owner FROM o
       UNION ALL SELECT w.id::text, true, w.owner FROM c JOIN w ON w.id = c.workflow_id`;
  }
}
