import type { QueryRunner } from 'typeorm';
import {
  type AcquiredRow,
  acquired,
  type AcquireResult,
  type WakeEligibility,
} from './acquire-result.js';
import { ALONE, GroupCommit } from './group-commit.js';
import { relog, relogOrLetGo } from './takeover-logs.js';
import { GroupWriteStatements } from './group-writes.sql.js';
import { type EndRow, ended, type LogRow, type RunEnded } from './rows.js';
import type { WorkflowTables } from './tables.sql.js';
import type { WorkflowStatements } from './workflow.sql.js';

/**
 * How the group writes run a statement (the store's `query`). NOTE: rows typed `object`, not pg's
 * `QueryResultRow`: this file's declarations are published, and a consumer need not have pg's types.
 */
export type StoreQuery = <R extends object>(
  text: string,
  values: unknown[],
  runner?: QueryRunner,
) => Promise<R[]>;

/**
 * The writes concurrent callers group-commit (see {@link GroupCommit}): starts outside a
 * transaction, first acquires, first-attempt checkpoints with no durable state, completions of
 * runs with no parent. Each kind is written alone (its single-row statement) or several in one
 * multi-row statement ({@link GroupWriteStatements}).
 */
export class GroupWrites {
  readonly sql: GroupWriteStatements;
  /** Group commit of concurrent passes' first-attempt checkpoints. */
  readonly checkpoints: GroupCommit<PendingCheckpoint, string | null>;
  /** Group commit of concurrent passes' first acquire statements. */
  readonly acquires: GroupCommit<PendingAcquire, AcquireResult | null>;
  /** Group commit of concurrent passes' completions of runs with no parent. */
  readonly completions: GroupCommit<PendingCompletion, RunEnded | false>;
  /** Group commit of concurrent callers' starts outside a transaction. */
  readonly starts: GroupCommit<PendingRun, NewRun | null>;

  constructor(
    private readonly query: StoreQuery,
    private readonly one: WorkflowStatements,
    tables: WorkflowTables,
    staleLock: string,
    poolSize: number,
  ) {
    this.sql = new GroupWriteStatements(tables, staleLock);
    // NOTE: how many statements of one kind run at once before new ones wait to be written
    // together: two (fewer than the pool, leaving connections to other statements), one with a
    // pool of one.
    const slots = Math.min(2, poolSize);
    this.checkpoints = new GroupCommit(
      { one: (c) => this.insertCheckpoint(c), many: (cs) => this.insertCheckpoints(cs) },
      slots,
    );
    this.acquires = new GroupCommit(
      { one: (a, retried) => this.acquireOnce(a, retried), many: (as) => this.acquireMany(as) },
      slots,
    );
    this.completions = new GroupCommit(
      { one: (c) => this.completeOnce(c), many: (cs) => this.completeMany(cs) },
      slots,
    );
    this.starts = new GroupCommit(
      {
        one: (r, retried) => this.insertNewRun(r, undefined, retried),
        many: (rs) => this.insertNewRuns(rs),
      },
      slots,
    );
  }

  /**
   * Inserts one run unless its key exists (then `null`). `retried`: a failed multi-row insert that
   * carried this start may have committed (its reply lost), so an existing run of the key may be
   * this caller's own: it is returned not created but with its wake-up, for the caller to enqueue
   * (a spare job is harmless; a start that created a run and never enqueued it would wait for the
   * recovery sweep).
   */
  async insertNewRun(r: PendingRun, runner?: QueryRunner, retried = false): Promise<NewRun | null> {
    const values: unknown[] = [r.key, r.jobName, r.input, r.maxDurationMs, r.timeoutMs, r.version];
    values.push(r.attributes);
    const rows = await this.query<{ id: string; next_run_at: Date }>(
      this.one.insertRun,
      values,
      runner,
    );
    if (rows[0]) return { id: rows[0].id, created: true, nextRunAt: rows[0].next_run_at };
    if (!retried) return null;
    const [found] = await this.query<{ id: string; next_run_at: Date | null }>(
      this.one.findRunWake,
      [r.jobName, r.key],
    );
    return found ? { id: found.id, created: false, nextRunAt: found.next_run_at } : null;
  }

  /** Several runs in one statement (per item: the new run, or `null` when its key exists). */
  private async insertNewRuns(runs: PendingRun[]): Promise<(NewRun | null)[]> {
    const rows = await this.query<{ id: string; job_name: string; key: string; next_run_at: Date }>(
      this.sql.insertRuns,
      [
        runs.map((r) => r.key),
        runs.map((r) => r.jobName),
        runs.map((r) => r.input),
        runs.map((r) => r.maxDurationMs),
        runs.map((r) => r.timeoutMs),
        runs.map((r) => r.version),
        runs.map((r) => JSON.stringify(r.attributes)),
      ],
    );
    const made = new Map(rows.map((r) => [`${r.job_name}\0${r.key}`, r]));
    return runs.map((r) => {
      const row = made.get(`${r.jobName}\0${r.key}`);
      // Two starts of one key in the statement: the first gets the row, the second finds it.
      if (row) made.delete(`${r.jobName}\0${r.key}`);
      return row ? { id: row.id, created: true, nextRunAt: row.next_run_at } : null;
    });
  }

  /**
   * One try to take the lock: the run and its logs, or `null` when not taken. `own`: also take back
   * a lock this pass holds (a failed multi-row acquire that carried it may have committed).
   * `last`: the statement without the version guard (`lastTry`), whose logs are read again.
   */
  async acquireOnce(a: PendingAcquire, own = false, last = false): Promise<AcquireResult | null> {
    const now = new Date(a.nowMs);
    const [text, values] = own
      ? [this.one.reacquire, [a.id, a.owner, now]]
      : last
        ? [this.one.lastTry, [a.id, a.owner, now]]
        : [this.one.acquire, [a.id, a.owner, now, a.wakes, now.toISOString()]];
    const rows = await this.query<AcquiredRow>(text, values);
    const relog = () => relogOrLetGo(this.query, this.one, a.id, a.owner);
    return rows[0] ? acquired(rows[0], a.owner, own, relog, last && !own) : null;
  }

  /** Several first tries in one statement (per item: acquired, or `null` to ask again alone). */
  private async acquireMany(items: PendingAcquire[]): Promise<(AcquireResult | null)[]> {
    const rows = await this.query<AcquiredRow & { acquired_by: string }>(this.sql.acquireMany, [
      items.map((a) => a.id),
      items.map((a) => a.owner),
      items.map((a) => new Date(a.nowMs)),
    ]);
    const got = new Map(rows.map((r) => [`${r.id}\0${r.acquired_by}`, r]));
    // Runs taken over: their logs read again, in one statement (when it fails, the group's items
    // are retried alone, each taking back the lock it took, with a read after these commits).
    const over = rows.filter((r) => r.prev_owner !== null).map((r) => r.id);
    const again =
      over.length > 0 ? await relog(this.query, this.one, over) : new Map<string, LogRow[]>();
    return Promise.all(
      items.map(async (a): Promise<AcquireResult | null> => {
        const row = got.get(`${a.id}\0${a.owner}`);
        if (!row) return null;
        // One row, one pass: the same run asked for twice under one owner is taken once.
        got.delete(`${a.id}\0${a.owner}`);
        const { acquired_by: _owner, ...rest } = row;
        return acquired(rest, a.owner, false, async () => again.get(a.id) ?? []);
      }),
    );
  }

  /** One first-attempt checkpoint (its log id; `null` when fenced out or already recorded). */
  private async insertCheckpoint(c: PendingCheckpoint): Promise<string | null> {
    const values: unknown[] = [c.workflowId, c.owner, c.stepName, c.attempts];
    values.push(c.result, c.metadata, c.startedAt);
    try {
      const rows = await this.query<{ id: string }>(this.one.insertCompletedStep, values);
      return rows[0]?.id ?? null;
    } catch (err) {
      // A unique violation: the step was recorded first (by a concurrent pass, or by an earlier
      // try of this write whose outcome was not known).
      if ((err as { code?: string }).code === '23505') return null;
      throw err;
    }
  }

  /**
   * Several first-attempt checkpoints in one statement (per item: log id, `null`, or
   * {@link ALONE} when another transaction held its run's row).
   */
  private async insertCheckpoints(
    items: PendingCheckpoint[],
  ): Promise<(string | null | typeof ALONE)[]> {
    const rows = await this.query<{
      id: string | null;
      workflow_id: string;
      step_name: string;
      owner: string | null;
    }>(this.sql.insertCompletedSteps, [
      items.map((c) => c.workflowId),
      items.map((c) => c.owner),
      items.map((c) => c.stepName),
      items.map((c) => c.attempts),
      items.map((c) => c.result),
      items.map((c) => c.metadata),
      items.map((c) => c.startedAt),
    ]);
    const locked = new Set(rows.filter((r) => r.id === null).map((r) => r.workflow_id));
    // A log goes to the pass that owns the run (a stale pass of the same run in the statement was
    // fenced out, and must not take the owner's log id for its own).
    const ids = new Map(
      rows.map((r) => [`${r.workflow_id}\0${r.step_name}\0${r.owner}`, r.id] as const),
    );
    return items.map((c) =>
      locked.has(c.workflowId)
        ? (ids.get(`${c.workflowId}\0${c.stepName}\0${c.owner}`) ?? null)
        : ALONE,
    );
  }

  /** One completion (also waking a parent whose last child it was). */
  async completeOnce(c: PendingCompletion): Promise<RunEnded | false> {
    const values = [c.id, c.owner, c.result, c.context, c.history];
    return ended(await this.query<EndRow>(this.one.complete, values));
  }

  /**
   * Several completions of runs with no parent (per item: ended, `false` when the lock is not the
   * pass's, or {@link ALONE} when another transaction held its run's row).
   */
  private async completeMany(
    items: PendingCompletion[],
  ): Promise<(RunEnded | false | typeof ALONE)[]> {
    const rows = await this.query<{ id: string; done: boolean; owner: string | null }>(
      this.sql.completeMany,
      [
        items.map((c) => c.id),
        items.map((c) => c.owner),
        items.map((c) => c.result),
        items.map((c) => c.context),
        items.map((c) => c.history),
      ],
    );
    const locked = new Set(rows.filter((r) => !r.done).map((r) => r.id));
    // Completed by its owner only: a stale pass of the same run in the statement was fenced out.
    const done = new Set(rows.filter((r) => r.done).map((r) => `${r.id}\0${r.owner}`));
    // Locked, not completed: the pass no longer holds the lock (a run without a parent never gains one).
    return items.map((c) => {
      if (!locked.has(c.id)) return ALONE;
      return done.has(`${c.id}\0${c.owner}`) ? { woken: null } : false;
    });
  }
}

/** One pass's completion of its run (JSON texts). */
export interface PendingCompletion {
  id: string;
  owner: string;
  result: string;
  context: string | null;
  history: string | null;
}

/** One pass's first try to take a run's lock. */
export interface PendingAcquire {
  id: string;
  owner: string;
  nowMs: number;
  /** Which runs the acquire may complete due sleeps of (alone only). */
  wakes: WakeEligibility | null;
}

/** One first-attempt checkpoint waiting to be written. */
export interface PendingCheckpoint {
  workflowId: string;
  owner: string;
  stepName: string;
  attempts: number;
  /** The stored result as JSON text, or `null`. */
  result: string | null;
  /** The step's metadata as JSON text. */
  metadata: string;
  /** When the attempt began, as ISO text. */
  startedAt: string;
}

/**
 * A start's run: created, or (`created` false, after an ambiguous multi-row insert) found with its
 * wake-up for the caller to enqueue.
 */
export interface NewRun {
  id: string;
  created: boolean;
  nextRunAt: Date | null;
}

/** One run to insert (see `WorkflowStore.insertRun`). */
export interface PendingRun {
  key: string;
  jobName: string;
  /** The input as JSON text. */
  input: string;
  maxDurationMs: number;
  timeoutMs: number | null;
  version: string | null;
  attributes: Record<string, unknown>;
}
