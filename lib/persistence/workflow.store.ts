import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../chrono-forge.constants.js';
import type { ResolvedOptions } from '../module/resolve-options.js';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { QueryRunner } from 'typeorm';
import type { StoredValue } from '../util/serialization.util.js';
import { LockLostError } from '../executor/run-scope.js';
import { ChronoForgeDatabase, type IsolationLevel } from './chrono-forge-database.js';
import type { ErrorRecord, LogRow, ReleaseSpec, RunRow } from './rows.js';

/** Outcome of trying to take a run's lock. */
export type AcquireResult =
  | { kind: 'acquired'; run: RunRow; logs: LogRow[] }
  | { kind: 'busy' }
  | { kind: 'not-due' }
  | { kind: 'not-executable' };

/** A job may start a pass this long before the run's `next_run_at` (clock skew, early timers). */
export const NOT_DUE_TOLERANCE_MS = 5_000;

/** Repeat tick logs (`durably_repeat$<name>$<ms>`) are read on demand, never with the pass. */
export const REPEAT_TICK_PATTERN = `'durably\\_repeat$%$%'`;

const statementNames = new Map<string, string>();

/** A stable prepared-statement name for a SQL text. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `cf_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Default of `worker.deadAfter`: a worker whose heartbeat is older is dead. */
export const WORKER_DEAD_AFTER_MS = 30_000;

/**
 * Every statement the engine's hot path issues. Each completed step, halt, completion or failure
 * is a single statement (one round trip, one commit), fenced by `locked_by` so a pass that lost its
 * lock can never write.
 */
@Injectable()
export class WorkflowStore {
  readonly wf: string;
  readonly logs: string;
  readonly errors: string;
  readonly signals: string;
  readonly workers: string;
  readonly schema: string;

  constructor(
    private readonly db: ChronoForgeDatabase,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {
    this.schema = db.schema;
    const s = `"${db.schema}"`;
    this.wf = `${s}.chrono_forge_workflows`;
    this.logs = `${s}.chrono_forge_execution_logs`;
    this.errors = `${s}.chrono_forge_error_logs`;
    this.signals = `${s}.chrono_forge_signals`;
    this.workers = `${s}.chrono_forge_workers`;
  }

  /**
   * SQL condition: the run's lock may be taken — free, older than the run's `max_duration_ms`, or
   * held by a worker whose heartbeat stopped (a dead process).
   */
  staleLock(): string {
    const deadAfter =
      this.options.worker === false ? WORKER_DEAD_AFTER_MS : this.options.worker.deadAfterMs;
    const dead = `${Math.round(deadAfter)} * interval '1 millisecond'`;
    return `(locked_at IS NULL OR locked_at < now() - max_duration_ms * interval '1 millisecond'
      OR (locked_at < now() - ${dead} AND NOT EXISTS (SELECT 1 FROM ${this.workers} k
          WHERE k.id = split_part(locked_by, '/', 1) AND k.heartbeat_at > now() - ${dead})))`;
  }

  get pool(): Pool {
    return this.db.pool;
  }

  /** Runs a statement on the pool, or on `runner` (a TypeORM QueryRunner inside a transaction). */
  async query<R extends QueryResultRow>(
    text: string,
    values: unknown[] = [],
    runner?: QueryRunner,
  ): Promise<R[]> {
    if (runner) return (await runner.query(text, values, true)).records as R[];
    // NOTE: named statements are parsed and planned once per connection, not on every call.
    return (await this.pool.query<R>({ name: statementName(text), text, values })).rows;
  }

  /** Runs `fn` in one transaction on one pooled connection. */
  transaction<T>(fn: (client: PoolClient) => Promise<T>, isolation?: IsolationLevel): Promise<T> {
    return this.db.transaction(fn, isolation);
  }

  /** Inserts a run unless `(jobName, key)` exists; returns its id and whether it was created. */
  async insertRun(
    jobName: string,
    key: string,
    input: unknown,
    maxDurationMs: number,
    runner?: QueryRunner,
  ): Promise<{ id: string; created: boolean; nextRunAt: Date | null }> {
    const inserted = await this.query<{ id: string; next_run_at: Date }>(
      `INSERT INTO ${this.wf} (key, job_name, input, max_duration_ms, next_run_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (job_name, key) DO NOTHING RETURNING id, next_run_at`,
      [key, jobName, JSON.stringify(input ?? null), maxDurationMs],
      runner,
    );
    if (inserted[0])
      return { id: inserted[0].id, created: true, nextRunAt: inserted[0].next_run_at };
    const existing = await this.query<{ id: string }>(
      `SELECT id FROM ${this.wf} WHERE job_name = $1 AND key = $2`,
      [jobName, key],
      runner,
    );
    return { id: existing[0].id, created: false, nextRunAt: null };
  }

  /**
   * Takes the lock (fresh or stale) and, in the same round trip, reads every step log of the run.
   * When another pass holds a fresh lock, records a pending wake-up for it to honour on release.
   */
  async acquire(id: string, owner: string, nowMs: number): Promise<AcquireResult> {
    // NOTE: a job that fires before the run's next_run_at (a superseded timer, e.g. a merge safety
    // wake that the poller pushed back) does not replay the run: the pass would only halt again.
    const due = (param: string) => `(state = 'running' OR wake_pending OR next_run_at IS NULL
      OR next_run_at <= ${param}::timestamptz + ${NOT_DUE_TOLERANCE_MS} * interval '1 millisecond')`;
    for (let tries = 0; tries < 3; tries++) {
      const rows = await this.query<RunRow & { logs: LogRow[] }>(
        `WITH w AS (
           UPDATE ${this.wf} SET state = 'running', locked_at = now(), locked_by = $2,
             started_at = COALESCE(started_at, now()), wake_pending = false, updated_at = now()
           WHERE id = $1 AND state IN ('idle', 'running') AND ${this.staleLock()} AND ${due('$3')}
           RETURNING id, key, job_name, input, context, state, attempt, retry_counts, max_duration_ms)
         SELECT w.*, COALESCE((SELECT json_agg(json_build_object('id', l.id::text, 'step_name', l.step_name,
             'state', l.state, 'attempts', l.attempts, 'result', l.result, 'metadata', l.metadata))
           FROM ${this.logs} l WHERE l.workflow_id = w.id AND l.step_name NOT LIKE ${REPEAT_TICK_PATTERN}), '[]'::json) AS logs
         FROM w`,
        [id, owner, new Date(nowMs)],
      );
      if (rows[0]) {
        const { logs, ...run } = rows[0];
        return { kind: 'acquired', run, logs };
      }
      const busy = await this.query(
        `UPDATE ${this.wf} SET wake_pending = true
         WHERE id = $1 AND state IN ('idle', 'running') AND NOT ${this.staleLock()} RETURNING id`,
        [id],
      );
      if (busy[0]) return { kind: 'busy' };
      const [run] = await this.query<{ due: boolean }>(
        `SELECT ${due('$2')} AS due FROM ${this.wf} WHERE id = $1 AND state IN ('idle', 'running')`,
        [id, new Date(nowMs)],
      );
      if (!run) return { kind: 'not-executable' };
      if (!run.due) return { kind: 'not-due' };
    }
    return { kind: 'busy' };
  }

  /** SQL condition: this pass (`$2`) still owns run `$1`. */
  fenced(): string {
    return `EXISTS (SELECT 1 FROM ${this.wf} WHERE id = $1 AND locked_by = $2)`;
  }

  /** Records a completed step in one statement; `null` when the pass no longer owns the lock. */
  async completeStep(
    workflowId: string,
    owner: string,
    stepName: string,
    attempts: number,
    result: StoredValue | null,
    metadata: Record<string, unknown>,
    startedAt: Date,
    runner?: QueryRunner,
    fresh = false,
  ): Promise<string | null> {
    const values = [
      workflowId,
      owner,
      stepName,
      attempts,
      result === null ? null : JSON.stringify(result),
      JSON.stringify(metadata),
      startedAt,
    ];
    const insert = `INSERT INTO ${this.logs} AS l (workflow_id, step_name, state, attempts, started_at,
         last_executed_at, completed_at, result, metadata)
       SELECT $1, $3, 'completed', $4, $7, now(), now(), $5, $6 WHERE ${this.fenced()}`;
    if (fresh) {
      // NOTE: the first attempt of a step has no row yet: a plain INSERT is cheaper than an upsert,
      // and a unique violation means a concurrent pass wrote it first.
      try {
        return (
          (await this.query<{ id: string }>(`${insert} RETURNING id`, values, runner))[0]?.id ??
          null
        );
      } catch (err) {
        if ((err as { code?: string }).code === '23505') return null;
        throw err;
      }
    }
    const rows = await this.query<{ id: string }>(
      `${insert}
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = EXCLUDED.attempts,
         last_executed_at = now(), completed_at = now(), result = EXCLUDED.result,
         metadata = EXCLUDED.metadata, updated_at = now()
       WHERE l.state <> 'completed'
       RETURNING id`,
      values,
      runner,
    );
    return rows[0]?.id ?? null;
  }

  /** Records a failed attempt of a step and its error-log row in one statement. */
  async failStepAttempt(
    workflowId: string,
    owner: string,
    stepName: string,
    attempts: number,
    state: 'pending' | 'failed',
    metadata: Record<string, unknown>,
    error: ErrorRecord,
    startedAt: Date,
  ): Promise<string | null> {
    const rows = await this.query<{ id: string }>(
      `WITH l AS (
         INSERT INTO ${this.logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at,
           metadata, error_class, error_message)
         SELECT $1, $3, $5, $4, $11, now(), $6, $7, $8 WHERE ${this.fenced()}
         ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
           last_executed_at = now(), metadata = EXCLUDED.metadata, error_class = EXCLUDED.error_class,
           error_message = EXCLUDED.error_message, updated_at = now()
         WHERE l.state <> 'completed'
         RETURNING id)
       INSERT INTO ${this.errors} (workflow_id, execution_log_id, step_name, attempt, error_class,
         error_message, backtrace, context)
       SELECT $1, l.id, $3, $4, $7, $8, $9, $10 FROM l RETURNING execution_log_id AS id`,
      [
        workflowId,
        owner,
        stepName,
        attempts,
        state,
        JSON.stringify(metadata),
        error.errorClass,
        error.message,
        error.backtrace,
        error.context === null ? null : JSON.stringify(error.context),
        startedAt,
      ],
    );
    return rows[0]?.id ?? null;
  }

  /** Creates or updates a pending step log (a timer's wake time, a poll count). */
  async savePendingLog(
    workflowId: string,
    owner: string,
    stepName: string,
    attempts: number,
    metadata: Record<string, unknown>,
  ): Promise<string> {
    const rows = await this.query<{ id: string }>(
      `INSERT INTO ${this.logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, metadata)
       SELECT $1, $3, 'pending', $4, now(), now(), $5 WHERE ${this.fenced()}
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET attempts = EXCLUDED.attempts, last_executed_at = now(),
         metadata = EXCLUDED.metadata, updated_at = now()
       WHERE l.state <> 'completed'
       RETURNING id`,
      [workflowId, owner, stepName, attempts, JSON.stringify(metadata)],
    );
    if (!rows[0]) throw new LockLostError(workflowId);
    return rows[0].id;
  }

  /** Reads one step log (used when a concurrent pass completed it first). */
  async findLog(workflowId: string, stepName: string): Promise<LogRow | null> {
    const rows = await this.query<LogRow>(
      `SELECT id, step_name, state, attempts, result, metadata FROM ${this.logs}
       WHERE workflow_id = $1 AND step_name = $2`,
      [workflowId, stepName],
    );
    return rows[0] ?? null;
  }

  /**
   * Releases the lock and sets the next state in one statement (plus the error-log row of a
   * workflow-level failure). A wake-up requested during the pass moves `next_run_at` to now.
   * Returns the stored `next_run_at`, or `undefined` when the lock was lost.
   */
  async release(
    id: string,
    owner: string,
    spec: ReleaseSpec,
  ): Promise<{ nextRunAt: Date | null } | undefined> {
    const e = spec.error;
    const rows = await this.query<{ next_run_at: Date | null }>(
      `WITH w AS (
         UPDATE ${this.wf} SET state = $3::text,
           next_run_at = CASE WHEN $3::text = 'idle' AND wake_pending THEN now() ELSE $4::timestamptz END,
           wake_pending = false, locked_at = NULL, locked_by = NULL, attempt = $5, retry_counts = $6,
           context = COALESCE($7::jsonb, context), updated_at = now()
         WHERE id = $1 AND locked_by = $2
         RETURNING id, next_run_at),
       e AS (
         INSERT INTO ${this.errors} (workflow_id, step_name, attempt, error_class, error_message, backtrace, context)
         SELECT w.id, NULL, $5, $8, $9, $10, $11 FROM w WHERE $8::text IS NOT NULL)
       SELECT next_run_at FROM w`,
      [
        id,
        owner,
        spec.state,
        spec.nextRunAt,
        spec.attempt,
        JSON.stringify(spec.retryCounts),
        spec.context === null ? null : JSON.stringify(spec.context),
        e?.errorClass ?? null,
        e?.message ?? null,
        e?.backtrace ?? null,
        e?.context ? JSON.stringify(e.context) : null,
      ],
    );
    return rows[0] ? { nextRunAt: rows[0].next_run_at } : undefined;
  }

  /** Completes the run with its result and the born-completed `$workflow_completion$` log. */
  async complete(
    id: string,
    owner: string,
    result: StoredValue,
    context: Record<string, unknown> | null,
  ): Promise<boolean> {
    const rows = await this.query(
      `WITH w AS (
         UPDATE ${this.wf} SET state = 'completed', result = $3, completed_at = now(), next_run_at = NULL,
           wake_pending = false, locked_at = NULL, locked_by = NULL, context = COALESCE($4::jsonb, context),
           updated_at = now()
         WHERE id = $1 AND locked_by = $2 RETURNING id)
       INSERT INTO ${this.logs} AS l (workflow_id, step_name, state, attempts, started_at, last_executed_at, completed_at)
       SELECT id, '$workflow_completion$', 'completed', 1, now(), now(), now() FROM w
       ON CONFLICT (workflow_id, step_name) DO UPDATE SET state = 'completed', attempts = l.attempts + 1,
         completed_at = now(), updated_at = now()
       RETURNING id`,
      [id, owner, JSON.stringify(result), context === null ? null : JSON.stringify(context)],
    );
    return rows.length > 0;
  }

  /** Fails the run: error-log row, state `failed` and the `$workflow_failure$<errorLogId>` log. */
  async fail(
    id: string,
    owner: string,
    attempt: number,
    error: ErrorRecord,
    context: Record<string, unknown> | null,
  ): Promise<boolean> {
    const rows = await this.query(
      `WITH e AS (
         INSERT INTO ${this.errors} (workflow_id, step_name, attempt, error_class, error_message, backtrace, context)
         SELECT $1, NULL, $3, $4, $5, $6, $7 WHERE ${this.fenced()} RETURNING id),
       w AS (
         UPDATE ${this.wf} SET state = 'failed', completed_at = now(), next_run_at = NULL, wake_pending = false,
           locked_at = NULL, locked_by = NULL, attempt = $3, context = COALESCE($8::jsonb, context), updated_at = now()
         WHERE id = $1 AND locked_by = $2 AND EXISTS (SELECT 1 FROM e) RETURNING id)
       INSERT INTO ${this.logs} (workflow_id, step_name, state, attempts, started_at, last_executed_at,
         completed_at, metadata)
       SELECT w.id, '$workflow_failure$' || e.id, 'completed', 1, now(), now(), now(),
         jsonb_build_object('error_log_id', e.id)
       FROM w, e RETURNING id`,
      [
        id,
        owner,
        attempt,
        error.errorClass,
        error.message,
        error.backtrace,
        error.context ? JSON.stringify(error.context) : null,
        context === null ? null : JSON.stringify(context),
      ],
    );
    return rows.length > 0;
  }

  /** Runs a recovery sweep should re-enqueue: overdue idle runs and runs with a stale lock. */
  async findRecoverable(
    nowMs: number,
    graceMs: number,
    limit: number,
  ): Promise<{ id: string; wake: Date; stale: boolean }[]> {
    return this.query(
      `(SELECT id, next_run_at AS wake, false AS stale FROM ${this.wf}
          WHERE state = 'idle' AND next_run_at <= $3::timestamptz - $1 * interval '1 millisecond'
          ORDER BY next_run_at LIMIT $2)
       UNION ALL
       (SELECT id, locked_at AS wake, true AS stale FROM ${this.wf}
          WHERE state = 'running' AND ${this.staleLock()}
          ORDER BY locked_at LIMIT $2)`,
      [graceMs, limit, new Date(nowMs)],
    );
  }
}
