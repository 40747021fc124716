import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { QueryRunner } from 'typeorm';
import type { StoredValue } from '../util/serialization.util.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { engineStatement } from '../database/engine-statement.js';
import { type SqlValue, sqlLiteral, type StepTransaction } from '../database/step-transaction.js';
import { sqlState } from '../database/transient-error.js';
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
import { ALONE, GroupCommit } from './group-commit.js';
import { SLEEP_RESULT, WorkflowStatements } from './workflow.sql.js';

export { NOT_DUE_TOLERANCE_MS, REPEAT_TICK_PATTERN, WORKER_DEAD_AFTER_MS } from './workflow.sql.js';

/**
 * SQL types of the parameters of a completed step's checkpoint (`$1`..`$8`): run id, owner, step
 * name, attempts, result, metadata, start time, the pass's durable state.
 */
const CHECKPOINT_TYPES = [
  'bigint',
  'text',
  'text',
  'int',
  'jsonb',
  'jsonb',
  'timestamptz',
  'jsonb',
];

/**
 * What recording and committing a transactional step's completion did: recorded (`id`), refused
 * (`id` null), or which of its statements failed (see `WorkflowStore.completeStepAndCommit`).
 */
export type StepCommit =
  { id: string | null } | { failed: 'checkpoint' | 'commit'; error: unknown };

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
  /** Group commit of concurrent passes' first-attempt checkpoints (see {@link GroupCommit}). */
  private readonly checkpoints: GroupCommit<PendingCheckpoint, string | null>;
  /** Group commit of concurrent passes' first acquire statements. */
  private readonly acquires: GroupCommit<PendingAcquire, AcquireResult | null>;
  /** Group commit of concurrent passes' completions of runs with no parent. */
  private readonly completions: GroupCommit<PendingCompletion, RunEnded | false>;
  /** Group commit of concurrent callers' starts outside a transaction. */
  private readonly starts: GroupCommit<PendingRun, NewRun | null>;

  constructor(
    db: ChronoForgeDatabase,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) options: ResolvedOptions,
  ) {
    super(db, options);
    this.sql = new WorkflowStatements(this.tables, this.staleLock());
    const slots = groupSlots(options.database.poolSize);
    this.checkpoints = new GroupCommit(
      {
        one: (item) => this.insertCheckpoint(item),
        many: (items) => this.insertCheckpoints(items),
      },
      slots,
    );
    this.acquires = new GroupCommit(
      {
        one: (item, retried) => this.acquireOnce(item, retried),
        many: (items) => this.acquireMany(items),
      },
      slots,
    );
    this.completions = new GroupCommit(
      { one: (item) => this.completeOnce(item), many: (items) => this.completeMany(items) },
      slots,
    );
    this.starts = new GroupCommit(
      {
        one: (item, retried) => this.insertNewRun(item, undefined, retried),
        many: (items) => this.insertNewRuns(items),
      },
      slots,
    );
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
    const inserted = runner ? await this.insertNewRun(run, runner) : await this.starts.write(run);
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
    const first = await this.acquires.write({ id, owner, nowMs, wakes });
    if (first) return first;
    for (let tries = 0; tries < 3; tries++) {
      const got = await this.acquireOnce({ id, owner, nowMs, wakes });
      if (got) return got;
      const busy = await this.query(this.sql.markBusy, [id]);
      if (busy[0]) return { kind: 'busy' };
      const [run] = await this.query<{ due: boolean }>(this.sql.dueCheck, [id, new Date(nowMs)]);
      if (!run) return { kind: 'not-executable' };
      if (!run.due) return { kind: 'not-due' };
    }
    return { kind: 'busy' };
  }

  /**
   * One try to take the lock: the run and its logs, or `null` when not taken. `own`: also take back
   * a lock this pass holds (a failed multi-row acquire that carried it may have committed).
   */
  private async acquireOnce(a: PendingAcquire, own = false): Promise<AcquireResult | null> {
    const now = new Date(a.nowMs);
    const rows = await this.query<RunRow & { logs: LogRow[]; woken?: WokenSleep[] | null }>(
      own ? this.sql.reacquire : this.sql.acquire,
      own ? [a.id, a.owner, now] : [a.id, a.owner, now, a.wakes, now.toISOString()],
    );
    if (!rows[0]) return null;
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

  /** Several first tries in one statement (per item: acquired, or `null` to ask again alone). */
  private async acquireMany(items: PendingAcquire[]): Promise<(AcquireResult | null)[]> {
    const rows = await this.query<RunRow & { logs: LogRow[]; acquired_by: string }>(
      this.sql.acquireMany,
      [items.map((a) => a.id), items.map((a) => a.owner), items.map((a) => new Date(a.nowMs))],
    );
    const got = new Map(rows.map((r) => [`${r.id}\0${r.acquired_by}`, r]));
    return items.map((a) => {
      const row = got.get(`${a.id}\0${a.owner}`);
      if (!row) return null;
      // One row, one pass: the same run asked for twice under one owner is taken once.
      got.delete(`${a.id}\0${a.owner}`);
      const { logs, acquired_by: _owner, ...run } = row;
      return { kind: 'acquired', run, logs, woken: [] };
    });
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
    const write = () =>
      this.writeCheckpoint(
        workflowId,
        owner,
        stepName,
        attempts,
        result,
        metadata,
        startedAt,
        runner,
        fresh,
        carrier,
      );
    // NOTE: a first attempt with no durable state to carry (the common step) is group-committed
    // with other passes' (one statement for many when statements are already in flight); alone,
    // it is written as any checkpoint (on the connection the pass keeps, see `claimWrite`).
    if (fresh && !runner && (!carrier || carrier.stateSettled()))
      return this.checkpoints.write(
        {
          workflowId,
          owner,
          stepName,
          attempts,
          result: result && JSON.stringify(result),
          metadata: JSON.stringify(metadata),
          startedAt,
        },
        write,
      );
    return write();
  }

  /** One checkpoint, with the durable state the pass changed when it carries some. */
  private async writeCheckpoint(
    workflowId: string,
    owner: string,
    stepName: string,
    attempts: number,
    result: StoredValue | null,
    metadata: Record<string, unknown>,
    startedAt: Date,
    runner: QueryRunner | undefined,
    fresh: boolean,
    carrier: StateCarrier | undefined,
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

  /**
   * Inserts one run unless its key exists (then `null`). `retried`: a failed multi-row insert that
   * carried this start may have committed (its reply lost), so an existing run of the key may be
   * this caller's own: it is returned not created but with its wake-up, for the caller to enqueue
   * (a spare job is harmless; a start that created a run and never enqueued it would wait for the
   * recovery sweep).
   */
  private async insertNewRun(
    r: PendingRun,
    runner?: QueryRunner,
    retried = false,
  ): Promise<NewRun | null> {
    const values: unknown[] = [r.key, r.jobName, r.input, r.maxDurationMs, r.timeoutMs, r.version];
    values.push(r.attributes);
    const rows = await this.query<{ id: string; next_run_at: Date }>(
      this.sql.insertRun,
      values,
      runner,
    );
    if (rows[0]) return { id: rows[0].id, created: true, nextRunAt: rows[0].next_run_at };
    if (!retried) return null;
    const [found] = await this.query<{ id: string; next_run_at: Date | null }>(
      this.sql.findRunWake,
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

  /** One first-attempt checkpoint (its log id; `null` when fenced out or already recorded). */
  private async insertCheckpoint(c: PendingCheckpoint): Promise<string | null> {
    const values = [
      c.workflowId,
      c.owner,
      c.stepName,
      c.attempts,
      c.result,
      c.metadata,
      c.startedAt,
    ];
    try {
      const rows = await this.query<{ id: string }>(this.sql.insertCompletedStep, values);
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

  /**
   * Records a transactional step's completion in its transaction `tx` and commits it: the
   * checkpoint and `COMMIT` in one round trip on the direct path (see `StepTransaction`), else one
   * after the other. `{ id: null }`: the checkpoint was refused (the pass no longer owns the lock,
   * or the step is recorded already), the transaction is left open for its rollback. `failed`:
   * which statement failed (`error`, tagged as an engine statement's failure); after a failed
   * `checkpoint` the transaction is open (aborted), after a failed `commit` it is over. @internal
   */
  async completeStepAndCommit(
    workflowId: string,
    owner: string,
    stepName: string,
    attempts: number,
    result: StoredValue | null,
    metadata: Record<string, unknown>,
    startedAt: Date,
    tx: StepTransaction,
    fresh: boolean,
    carrier?: StateCarrier,
  ): Promise<StepCommit> {
    const args = [workflowId, owner, stepName, attempts, result, metadata, startedAt] as const;
    if (!tx.direct) return this.completeThenCommit(...args, tx, fresh, carrier);
    const values: SqlValue[] = [workflowId, owner, stepName, attempts];
    values.push(result && JSON.stringify(result), JSON.stringify(metadata), startedAt);
    const write = await this.claimWrite(carrier, tx.runner);
    const withState = write.claim !== null;
    if (write.claim) values.push(JSON.stringify(write.claim.state));
    // A value a query string cannot carry (a NUL character): the statements one after the other.
    const literals = values.map((v, i) => sqlLiteral(v, CHECKPOINT_TYPES[i]));
    if (!literals.every((l) => l !== undefined)) {
      write.end(false);
      return this.completeThenCommit(...args, tx, fresh, carrier);
    }
    let id: string | null = null;
    try {
      const outcome = await tx.commitWith<{ id: string }>({
        text: this.sql.checkedCompletedStep(fresh, withState),
        types: CHECKPOINT_TYPES,
        values,
        literals,
        // NOTE: a prepared statement's name outlives its server session only without a
        // transaction pooler (as for the named statements of `query`).
        inline: this.namedStatements
          ? undefined
          : (literals) => this.sql.checkedCompletedStep(fresh, withState, literals),
      });
      if ('failed' in outcome) {
        const code = sqlState(outcome.error);
        // Refused: it wrote no row (22012, see `checkedCompletedStep`), or a concurrent pass
        // wrote the first attempt's row first (23505).
        if (outcome.failed === 'checkpoint' && (code === '22012' || (fresh && code === '23505')))
          return { id: null };
        return outcome;
      }
      id = outcome.row?.id ?? null;
      return { id };
    } finally {
      write.end(id !== null);
    }
  }

  /** `completeStepAndCommit` without the direct path: the checkpoint, then `COMMIT`. */
  private async completeThenCommit(
    workflowId: string,
    owner: string,
    stepName: string,
    attempts: number,
    result: StoredValue | null,
    metadata: Record<string, unknown>,
    startedAt: Date,
    tx: StepTransaction,
    fresh: boolean,
    carrier?: StateCarrier,
  ): Promise<StepCommit> {
    let id: string | null;
    try {
      id = await this.completeStep(
        workflowId,
        owner,
        stepName,
        attempts,
        result,
        metadata,
        startedAt,
        tx.runner,
        fresh,
        carrier,
      );
    } catch (error) {
      return { failed: 'checkpoint', error };
    }
    if (id === null) return { id };
    try {
      await engineStatement(() => tx.commit());
    } catch (error) {
      return { failed: 'commit', error };
    }
    return { id };
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
    return hasParent ? this.completeOnce(item) : this.completions.write(item);
  }

  /** One completion (also waking a parent whose last child it was). */
  private async completeOnce(c: PendingCompletion): Promise<RunEnded | false> {
    const rows = await this.query<EndRow>(this.sql.complete, [
      c.id,
      c.owner,
      c.result,
      c.context,
      c.history,
    ]);
    return ended(rows);
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

/**
 * How many statements of one group-committed kind run at once before new ones wait to be written
 * together: two (fewer than the pool, leaving connections to other statements), one with a pool of one.
 */
function groupSlots(poolSize: number): number {
  return Math.min(2, poolSize);
}

/** One pass's completion of its run (JSON texts). */
interface PendingCompletion {
  id: string;
  owner: string;
  result: string;
  context: string | null;
  history: string | null;
}

/** One pass's first try to take a run's lock. */
interface PendingAcquire {
  id: string;
  owner: string;
  nowMs: number;
  /** Which runs the acquire may complete due sleeps of (alone only). */
  wakes: WakeEligibility | null;
}

/** One first-attempt checkpoint waiting to be written. */
interface PendingCheckpoint {
  workflowId: string;
  owner: string;
  stepName: string;
  attempts: number;
  /** The stored result as JSON text, or `null`. */
  result: string | null;
  /** The step's metadata as JSON text. */
  metadata: string;
  startedAt: Date;
}

/**
 * A start's run: created, or (`created` false, after an ambiguous multi-row insert) found with its
 * wake-up for the caller to enqueue.
 */
interface NewRun {
  id: string;
  created: boolean;
  nextRunAt: Date | null;
}

/** One run to insert (see {@link WorkflowStore.insertRun}). */
interface PendingRun {
  key: string;
  jobName: string;
  /** The input as JSON text. */
  input: string;
  maxDurationMs: number;
  timeoutMs: number | null;
  version: string | null;
  attributes: Record<string, unknown>;
}
