import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { QueryRunner } from 'typeorm';
import type { StoredValue } from '../util/serialization.util.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import {
  type EndRow,
  ended,
  type ErrorRecord,
  type HistoryWrite,
  type LogRow,
  type NewRunExtras,
  type ReleaseSpec,
  type RunEnded,
  type RunRow,
  type StateCarrier,
} from './rows.js';

export type { RunEnded } from './rows.js';
import { StoreConnection } from './store-connection.js';
import { SLEEP_RESULT, WorkflowStatements } from './workflow.sql.js';

export { NOT_DUE_TOLERANCE_MS, REPEAT_TICK_PATTERN, WORKER_DEAD_AFTER_MS } from './workflow.sql.js';

/** Outcome of trying to take a run's lock. */
export type AcquireResult =
  | {
      kind: 'acquired';
      run: RunRow;
      logs: LogRow[];
      /** Due plain sleeps the acquire completed (see {@link WakeEligibility}). */
      woken: WokenSleep[];
    }
  | { kind: 'busy' }
  | { kind: 'not-due' }
  | { kind: 'not-executable' };

/**
 * A sleep the acquire completed: its log id, its new attempts, and the timestamps it had before
 * (as PostgreSQL's text, exact), to put it back if the replay does not reach it.
 */
export interface WokenSleep {
  id: string;
  attempts: number;
  lastExecutedAt: string;
  updatedAt: string;
}

/**
 * The workflows whose due sleeps the acquire may complete, as JSON: workflow name → the version
 * this worker has (`null`: none). A run qualifies when this worker serves it (its version is
 * `null` or that one) and replays it as is: its workflow has no run-level limits (which may park
 * the pass before the method runs) and no pass interceptors (which may refuse the pass).
 */
export type WakeEligibility = string;

/**
 * Every statement the engine's hot path issues. Each completed step, halt, completion or failure
 * is a single statement (one round trip, one commit), fenced by a lock on the run's row where
 * `locked_by` is the pass's owner, so no write of a pass commits after its lock was taken over.
 */
@Injectable()
export class WorkflowStore extends StoreConnection {
  private readonly sql: WorkflowStatements;

  constructor(
    db: ChronoForgeDatabase,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) options: ResolvedOptions,
  ) {
    super(db, options);
    this.sql = new WorkflowStatements(this.tables, this.staleLock());
  }

  /**
   * Inserts a run unless `(jobName, key)` exists; returns its id and whether it was created. With
   * `timeoutMs`, the run's deadline is that long after now; `attributes`: its search attributes.
   */
  async insertRun(
    jobName: string,
    key: string,
    input: unknown,
    maxDurationMs: number,
    runner?: QueryRunner,
    { timeoutMs = null, version = null, attributes = {} }: NewRunExtras = {},
  ): Promise<{ id: string; created: boolean; nextRunAt: Date | null }> {
    const inserted = await this.query<{ id: string; next_run_at: Date }>(
      this.sql.insertRun,
      [key, jobName, JSON.stringify(input ?? null), maxDurationMs, timeoutMs, version, attributes],
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
   * With `wakes` (the workflows this worker replays as is), the same statement completes the run's
   * plain sleeps that are due at `nowMs`, as the replay would have: the logs read show them
   * completed, and the wake-up pass writes nothing for them.
   */
  async acquire(
    id: string,
    owner: string,
    nowMs: number,
    wakes: WakeEligibility | null = null,
  ): Promise<AcquireResult> {
    const now = new Date(nowMs);
    for (let tries = 0; tries < 3; tries++) {
      const rows = await this.query<RunRow & { logs: LogRow[]; woken: WokenSleep[] | null }>(
        this.sql.acquire,
        [id, owner, now, wakes, now.toISOString()],
      );
      if (rows[0]) {
        const { logs, woken, ...run } = rows[0];
        if (!woken) return { kind: 'acquired', run, logs, woken: [] };
        // The statement's own read predates its completions: show the logs as it stored them.
        const completed = new Map(woken.map((w) => [w.id, w.attempts]));
        const read = logs.map((l) => {
          const attempts = completed.get(l.id);
          if (attempts === undefined) return l;
          return { ...l, state: 'completed' as const, attempts, result: SLEEP_RESULT };
        });
        return { kind: 'acquired', run, logs: read, woken };
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

  /**
   * Puts sleeps this pass's acquire completed back as they were (pending, their attempts and
   * timestamps), fenced by the pass's lock: the replay did not reach them (the workflow's code
   * changed), so the replay's own completion would not have happened either.
   */
  async unwake(workflowId: string, owner: string, sleeps: WokenSleep[]): Promise<true> {
    await this.query(this.sql.unwake, [workflowId, owner, JSON.stringify(sleeps)]);
    return true;
  }

  /** The run's state and stored wake time (`null` when the run is gone). */
  async findWake(id: string): Promise<{ state: string; next_run_at: Date | null } | null> {
    const rows = await this.query<{ state: string; next_run_at: Date | null }>(this.sql.findWake, [
      id,
    ]);
    return rows[0] ?? null;
  }

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

  /** Reads one step log (used when a concurrent pass completed it first). */
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
      spec.history ? JSON.stringify(spec.history) : null,
    ]);
    return rows[0] ? { nextRunAt: rows[0].next_run_at } : undefined;
  }

  /** Completes the run with its result and the born-completed `$workflow_completion$` log. */
  async complete(
    id: string,
    owner: string,
    result: StoredValue,
    context: Record<string, unknown> | null,
    history: HistoryWrite | null = null,
  ): Promise<RunEnded | false> {
    const rows = await this.query<EndRow>(this.sql.complete, [
      id,
      owner,
      JSON.stringify(result),
      context === null ? null : JSON.stringify(context),
      history && JSON.stringify(history),
    ]);
    return ended(rows);
  }

  /** Fails the run: error-log row, state `failed` and the `$workflow_failure$<errorLogId>` log. */
  async fail(
    id: string,
    owner: string,
    attempt: number,
    error: ErrorRecord,
    context: Record<string, unknown> | null,
    history: HistoryWrite | null = null,
  ): Promise<RunEnded | false> {
    const rows = await this.query<EndRow>(this.sql.fail, [
      id,
      owner,
      attempt,
      error.errorClass,
      error.message,
      error.backtrace,
      error.context ? JSON.stringify(error.context) : null,
      context === null ? null : JSON.stringify(context),
      history && JSON.stringify(history),
    ]);
    return ended(rows);
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
