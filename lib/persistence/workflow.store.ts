import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../chrono-forge.constants.js';
import type { ResolvedOptions } from '../module/resolve-options.js';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { QueryRunner } from 'typeorm';
import type { StoredValue } from '../util/serialization.util.js';
import { engineStatement, LockLostError } from '../executor/run-scope.js';
import { ChronoForgeDatabase, type IsolationLevel } from './chrono-forge-database.js';
import type { ErrorRecord, LogRow, ReleaseSpec, RunRow, StateCarrier, StateClaim } from './rows.js';
import {
  staleLockCondition,
  statementName,
  WORKER_DEAD_AFTER_MS,
  WorkflowStatements,
  workflowTables,
} from './workflow.sql.js';

export { NOT_DUE_TOLERANCE_MS, REPEAT_TICK_PATTERN, WORKER_DEAD_AFTER_MS } from './workflow.sql.js';

/** A claim on a pass's durable state and the connection to write it on (see `claimWrite`). @internal */
export interface ClaimedWrite {
  /** The state the write carries, or `null`. */
  readonly claim: StateClaim | null;
  /** Runs a statement on the write's connection. */
  query<R extends QueryResultRow>(text: string, values: unknown[]): Promise<R[]>;
  /** Ends the claim (`saved`: the write stored the state) and returns the connection. */
  end(saved: boolean): void;
}

/** Outcome of trying to take a run's lock. */
export type AcquireResult =
  | { kind: 'acquired'; run: RunRow; logs: LogRow[] }
  | { kind: 'busy' }
  | { kind: 'not-due' }
  | { kind: 'not-executable' };

/**
 * Every statement the engine's hot path issues. Each completed step, halt, completion or failure
 * is a single statement (one round trip, one commit), fenced by a lock on the run's row where
 * `locked_by` is the pass's owner, so no write of a pass commits after its lock was taken over.
 */
@Injectable()
export class WorkflowStore {
  readonly wf: string;
  readonly logs: string;
  readonly errors: string;
  readonly signals: string;
  readonly workers: string;
  readonly schema: string;

  private readonly staleLockSql: string;
  private readonly sql: WorkflowStatements;

  constructor(
    private readonly db: ChronoForgeDatabase,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) options: ResolvedOptions,
  ) {
    this.schema = db.schema;
    const tables = workflowTables(db.schema);
    ({
      wf: this.wf,
      logs: this.logs,
      errors: this.errors,
      signals: this.signals,
      workers: this.workers,
    } = tables);
    const deadAfter = options.worker === false ? WORKER_DEAD_AFTER_MS : options.worker.deadAfterMs;
    this.staleLockSql = staleLockCondition(this.workers, deadAfter);
    this.sql = new WorkflowStatements(tables, this.staleLockSql);
  }

  /**
   * SQL condition: the run's lock may be taken — free, older than the run's `max_duration_ms`, or
   * held by a worker whose heartbeat stopped (a dead process).
   */
  staleLock(): string {
    return this.staleLockSql;
  }

  /** @internal The pg pool (its types stay out of the published declarations). */
  get pool(): Pool {
    return this.db.pool;
  }

  /**
   * Runs a statement on the pool, or on `runner` (a TypeORM QueryRunner inside a transaction), or
   * on `client` (a connection taken from the pool). What it throws is tagged as an engine
   * statement's failure (type and `code` unchanged): when it escapes a durable call, the pass ends
   * as an infrastructure fault (`EngineFaultError`).
   * @internal
   */
  query<R extends QueryResultRow>(
    text: string,
    values: unknown[] = [],
    runner?: QueryRunner,
    client?: PoolClient,
  ): Promise<R[]> {
    return engineStatement(async () => {
      if (runner) return (await runner.query(text, values, true)).records as R[];
      // NOTE: named statements are parsed and planned once per connection, not on every call.
      const config = { name: statementName(text), text, values };
      return (await (client ?? this.pool).query<R>(config)).rows;
    });
  }

  /**
   * Claims the carrier's unsaved state (see {@link StateCarrier.claimState}) for one write, with the
   * connection to write it on: `runner`'s, or a pooled one taken before the claim, so a claim is
   * never held while waiting for the pool (which transactional steps waiting for the claim may
   * hold). `end` must be called once the write ended. @internal
   */
  async claimWrite(carrier?: StateCarrier, runner?: QueryRunner): Promise<ClaimedWrite> {
    // A refused or timed-out connection fails like a statement: an engine fault, never user code's.
    const client =
      carrier && !runner ? await engineStatement(() => this.pool.connect()) : undefined;
    // A checked-out connection that the server drops while no query runs on it emits 'error': with
    // no listener that would crash the process. Remember it, and destroy the connection on release.
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
    };
    client?.on('error', onError);
    const release = (): void => {
      client?.off('error', onError);
      client?.release(broken);
    };
    let claim: StateClaim | null;
    try {
      claim = (await carrier?.claimState()) ?? null;
    } catch (err) {
      release();
      throw err;
    }
    return {
      claim,
      query: <R extends QueryResultRow>(text: string, values: unknown[]) =>
        this.query<R>(text, values, runner, client),
      end: (saved) => {
        claim?.done(saved);
        release();
      },
    };
  }

  /** Runs `fn` in one transaction on one pooled connection (failures tagged as in `query`). @internal */
  transaction<T>(fn: (client: PoolClient) => Promise<T>, isolation?: IsolationLevel): Promise<T> {
    return engineStatement(() => this.db.transaction(fn, isolation));
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
      this.sql.insertRun,
      [key, jobName, JSON.stringify(input ?? null), maxDurationMs],
      runner,
    );
    if (inserted[0])
      return { id: inserted[0].id, created: true, nextRunAt: inserted[0].next_run_at };
    const existing = await this.query<{ id: string }>(this.sql.findRunId, [jobName, key], runner);
    return { id: existing[0].id, created: false, nextRunAt: null };
  }

  /**
   * Takes the lock (fresh or stale) and, in the same round trip, reads every step log of the run.
   * When another pass holds a fresh lock, records a pending wake-up for it to honour on release.
   */
  async acquire(id: string, owner: string, nowMs: number): Promise<AcquireResult> {
    for (let tries = 0; tries < 3; tries++) {
      const rows = await this.query<RunRow & { logs: LogRow[] }>(this.sql.acquire, [
        id,
        owner,
        new Date(nowMs),
      ]);
      if (rows[0]) {
        const { logs, ...run } = rows[0];
        return { kind: 'acquired', run, logs };
      }
      const busy = await this.query(this.sql.markBusy, [id]);
      if (busy[0]) return { kind: 'busy' };
      const [run] = await this.query<{ due: boolean }>(this.sql.dueCheck, [id, new Date(nowMs)]);
      if (!run) return { kind: 'not-executable' };
      if (!run.due) return { kind: 'not-due' };
    }
    return { kind: 'busy' };
  }

  /** SQL condition: this pass (`$2`) still owns run `$1`. */
  fenced(): string {
    return this.sql.fenced;
  }

  /**
   * Records a completed step in one statement; `null` when the pass no longer owns the lock. With
   * `carrier`, the durable state the pass changed since its last checkpoint is written too.
   */
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
    carrier?: StateCarrier,
  ): Promise<string | null> {
    const values: unknown[] = [workflowId, owner, stepName, attempts];
    values.push(result && JSON.stringify(result), JSON.stringify(metadata), startedAt);
    const write = await this.claimWrite(carrier, runner);
    if (write.claim) values.push(JSON.stringify(write.claim.state));
    let id: string | null = null;
    try {
      // NOTE: the first attempt of a step has no row yet: a plain INSERT is cheaper than an upsert,
      // and a unique violation means a concurrent pass wrote it first.
      const text = this.sql.completedStep(fresh, write.claim !== null);
      id = (await write.query<{ id: string }>(text, values))[0]?.id ?? null;
    } catch (err) {
      if (fresh && (err as { code?: string }).code === '23505') return null;
      throw err;
    } finally {
      write.end(id !== null);
    }
    return id;
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
    const rows = await this.query<{ id: string }>(this.sql.failStepAttempt, [
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
    ]);
    return rows[0]?.id ?? null;
  }

  /**
   * Creates or updates a pending step log (a timer's wake time, a poll count); with `carrier`, also
   * writes the durable state the pass changed since its last checkpoint.
   */
  async savePendingLog(
    workflowId: string,
    owner: string,
    stepName: string,
    attempts: number,
    metadata: Record<string, unknown>,
    carrier?: StateCarrier,
  ): Promise<string> {
    const values = [workflowId, owner, stepName, attempts, JSON.stringify(metadata)];
    const write = await this.claimWrite(carrier);
    if (write.claim) values.push(JSON.stringify(write.claim.state));
    const text = write.claim ? this.sql.savePendingLogWithState : this.sql.savePendingLog;
    let rows: Array<{ id: string }> = [];
    try {
      rows = await write.query<{ id: string }>(text, values);
    } finally {
      write.end(rows[0] !== undefined);
    }
    if (!rows[0]) throw new LockLostError(workflowId);
    return rows[0].id;
  }

  /** The run's state and stored wake time (`null` when the run is gone). */
  async findWake(id: string): Promise<{ state: string; next_run_at: Date | null } | null> {
    const rows = await this.query<{ state: string; next_run_at: Date | null }>(this.sql.findWake, [
      id,
    ]);
    return rows[0] ?? null;
  }

  /** Reads one step log (used when a concurrent pass completed it first). */
  /**
   * The completed log of `stepName`, if this pass (`owner`) still holds the run's lock: a checkpoint
   * refused while the lock is ours means an earlier owner recorded the step before a takeover.
   */
  async findOwnedCompletedLog(
    workflowId: string,
    owner: string,
    stepName: string,
  ): Promise<LogRow | null> {
    const rows = await this.query<LogRow>(this.sql.findOwnedCompletedLog, [
      workflowId,
      owner,
      stepName,
    ]);
    return rows[0] ?? null;
  }

  async findLog(workflowId: string, stepName: string): Promise<LogRow | null> {
    const rows = await this.query<LogRow>(this.sql.findLog, [workflowId, stepName]);
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
    const rows = await this.query<{ next_run_at: Date | null }>(this.sql.release, [
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
      spec.stalledStep ?? null,
    ]);
    return rows[0] ? { nextRunAt: rows[0].next_run_at } : undefined;
  }

  /** Completes the run with its result and the born-completed `$workflow_completion$` log. */
  async complete(
    id: string,
    owner: string,
    result: StoredValue,
    context: Record<string, unknown> | null,
  ): Promise<boolean> {
    const rows = await this.query(this.sql.complete, [
      id,
      owner,
      JSON.stringify(result),
      context === null ? null : JSON.stringify(context),
    ]);
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
    const rows = await this.query(this.sql.fail, [
      id,
      owner,
      attempt,
      error.errorClass,
      error.message,
      error.backtrace,
      error.context ? JSON.stringify(error.context) : null,
      context === null ? null : JSON.stringify(context),
    ]);
    return rows.length > 0;
  }

  /** Runs a recovery sweep should re-enqueue: overdue idle runs and runs with a stale lock. */
  async findRecoverable(
    nowMs: number,
    graceMs: number,
    limit: number,
  ): Promise<{ id: string; wake: Date; stale: boolean }[]> {
    return this.query(this.sql.findRecoverable, [graceMs, limit, new Date(nowMs)]);
  }
}
