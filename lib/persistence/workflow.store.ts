import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { QueryRunner } from 'typeorm';
import type { StoredValue } from '../util/serialization.util.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import type { AcquireResult, WakeEligibility } from './acquire-result.js';
import type { PendingCompletion, PendingRun } from './group-writes.store.js';
import {
  type EndRow,
  ended,
  type ErrorRecord,
  type HistoryWrite,
  type NewRunExtras,
  type ReleaseSpec,
  type RunEnded,
} from './rows.js';
import { StepLogStore } from './step-log.store.js';

export type { AcquireResult, WakeEligibility, WokenSleep } from './acquire-result.js';
export type { RunEnded } from './rows.js';
export type { StepCommit } from './step-commit.js';
export { NOT_DUE_TOLERANCE_MS, REPEAT_TICK_PATTERN, WORKER_DEAD_AFTER_MS } from './workflow.sql.js';

/**
 * Every statement the engine's hot path issues. Each completed step, halt, completion or failure
 * is a single statement (one round trip, one commit), fenced by a lock on the run's row where
 * `locked_by` is the pass's owner, so no write of a pass commits after its lock was taken over.
 * The step logs' statements are {@link StepLogStore}'s; the runs' are here.
 */
@Injectable()
export class WorkflowStore extends StepLogStore {
  constructor(
    db: ChronoForgeDatabase,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) options: ResolvedOptions,
  ) {
    super(db, options);
  }

  /**
   * Inserts a run unless `(jobName, key)` exists; returns its id and whether it was created. With
   * `timeoutMs`, the run's deadline is that long after now; `attributes`: its search attributes.
   * A run found (`created` false) has `nextRunAt` null, unless a group-committed insert carrying
   * this start failed ambiguously: then the found run (maybe this start's) has its idle wake-up,
   * for the caller to enqueue.
   */
  async insertRun(
    jobName: string,
    key: string,
    input: unknown,
    maxDurationMs: number,
    runner?: QueryRunner,
    { timeoutMs = null, version = null, attributes = {} }: NewRunExtras = {},
  ): Promise<{ id: string; created: boolean; nextRunAt: Date | null }> {
    const run: PendingRun = {
      key,
      jobName,
      input: JSON.stringify(input ?? null),
      maxDurationMs,
      timeoutMs,
      version,
      attributes,
    };
    const inserted = runner
      ? await this.groups.insertNewRun(run, runner)
      : await this.groups.starts.write(run);
    if (inserted) return inserted;
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
    // The first try is group-committed with other passes' (see GroupCommit); a refused one asks
    // again alone, as every later try does.
    const first = await this.groups.acquires.write({ id, owner, nowMs, wakes });
    if (first) return first;
    for (let tries = 0; tries < 3; tries++) {
      // The last try waits its turn on the row rather than be refused by a newer version of it.
      const last = tries === 2;
      const got = await this.groups.acquireOnce({ id, owner, nowMs, wakes }, false, last);
      if (got) return got;
      const busy = await this.query(this.sql.markBusy, [id]);
      if (busy[0]) return { kind: 'busy' };
      const [run] = await this.query<{ due: boolean }>(this.sql.dueCheck, [id, new Date(nowMs)]);
      if (!run) return { kind: 'not-executable' };
      if (!run.due) return { kind: 'not-due' };
    }
    return { kind: 'busy' };
  }

  /** The run's state and stored wake time (`null` when the run is gone). */
  async findWake(id: string): Promise<{ state: string; next_run_at: Date | null } | null> {
    const rows = await this.query<{ state: string; next_run_at: Date | null }>(this.sql.findWake, [
      id,
    ]);
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

  /**
   * Completes the run with its result and the born-completed `$workflow_completion$` log. A run
   * with no parent (`hasParent: false`, as its acquire read it) is group-committed with other
   * passes' completions.
   */
  async complete(
    id: string,
    owner: string,
    result: StoredValue,
    context: Record<string, unknown> | null,
    history: HistoryWrite | null = null,
    hasParent = true,
  ): Promise<RunEnded | false> {
    const item: PendingCompletion = {
      id,
      owner,
      result: JSON.stringify(result),
      context: context === null ? null : JSON.stringify(context),
      history: history && JSON.stringify(history),
    };
    return hasParent ? this.groups.completeOnce(item) : this.groups.completions.write(item);
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
