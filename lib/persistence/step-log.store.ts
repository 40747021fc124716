import type { QueryRunner } from 'typeorm';
import { LockLostError } from '../errors/lock-lost.error.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import type { StepTransaction } from '../database/step-transaction.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { StoredValue } from '../util/serialization.util.js';
import type { WokenSleep } from './acquire-result.js';
import { GroupWrites, type PendingCheckpoint, type StoreQuery } from './group-writes.store.js';
import {
  type CheckpointArgs,
  type ErrorRecord,
  type LogRow,
  type StateCarrier,
  unreadLogId,
} from './rows.js';
import { commitStep, type StepCommit } from './step-commit.js';
import { StoreConnection } from './store-connection.js';
import { WorkflowStatements } from './workflow.sql.js';

/**
 * The run store's writes and reads of step logs: checkpoints (group-committed when they can be,
 * see {@link GroupWrites}), failed attempts, pending logs, the logs a pass reads again. Each write
 * is one statement fenced by the pass's lock (`WorkflowStore` adds the runs' own statements).
 */
export abstract class StepLogStore extends StoreConnection {
  protected readonly sql: WorkflowStatements;
  /** The group-committed writes (starts, acquires, checkpoints, completions). */
  protected readonly groups: GroupWrites;

  constructor(db: ChronoForgeDatabase, options: ResolvedOptions) {
    super(db, options);
    this.sql = new WorkflowStatements(this.tables, this.staleLock());
    // NOTE: looked up at each call, not bound once: the store's `query` is the one to go through.
    const query: StoreQuery = (text, values, runner) => this.query(text, values, runner);
    const poolSize = options.database.poolSize;
    this.groups = new GroupWrites(query, this.sql, this.tables, this.staleLock(), poolSize);
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
    const args = { workflowId, owner, stepName, attempts, result, metadata, startedAt };
    return this.completeStepWith({ ...args, fresh, carrier }, runner);
  }

  /** {@link completeStep} with its arguments as one object. */
  async completeStepWith(c: CheckpointArgs, runner?: QueryRunner): Promise<string | null> {
    // The result and metadata as JSON text, the start time as ISO text (pg's own Date formatting
    // is slower), once for either way of writing them.
    const result = c.result && JSON.stringify(c.result);
    const metadata = JSON.stringify(c.metadata);
    const startedAt = c.startedAt.toISOString();
    const write = () => this.writeCheckpoint(c, { result, metadata, startedAt }, runner);
    // NOTE: a first attempt with no durable state to carry (the common step) is group-committed
    // with other passes' (one statement for many when statements are already in flight); alone,
    // it is written as any checkpoint (on the connection the pass keeps, see `claimWrite`).
    if (c.fresh && !runner && (!c.carrier || c.carrier.stateSettled()))
      return this.groups.checkpoints.write(
        {
          workflowId: c.workflowId,
          owner: c.owner,
          stepName: c.stepName,
          attempts: c.attempts,
          result,
          metadata,
          startedAt,
        },
        write,
      );
    return write();
  }

  /** One checkpoint, with the durable state the pass changed when it carries some. */
  private async writeCheckpoint(
    c: CheckpointArgs,
    text: Pick<PendingCheckpoint, 'result' | 'metadata' | 'startedAt'>,
    runner?: QueryRunner,
  ): Promise<string | null> {
    const values: unknown[] = [c.workflowId, c.owner, c.stepName, c.attempts];
    values.push(text.result, text.metadata, text.startedAt);
    const write = await this.claimWrite(c.carrier, runner);
    if (write.claim) values.push(JSON.stringify(write.claim.state));
    let id: string | null = null;
    try {
      // NOTE: the first attempt of a step has no row yet: a plain INSERT is cheaper than an upsert,
      // and a unique violation means a concurrent pass wrote it first.
      if (c.fresh && c.anyId && !write.claim && !runner) {
        const written = await write.count(this.sql.insertCompletedStepCounted, values);
        id = written === 1 ? unreadLogId() : null;
      } else {
        const text = this.sql.completedStep(c.fresh, write.claim !== null);
        id = (await write.query<{ id: string }>(text, values))[0]?.id ?? null;
      }
    } catch (err) {
      if (c.fresh && (err as { code?: string }).code === '23505') return null;
      throw err;
    } finally {
      write.end(id !== null);
    }
    return id;
  }

  /**
   * Records a transactional step's completion in its transaction `tx` and commits it: the
   * checkpoint and `COMMIT` in one round trip on the direct path (see `StepTransaction`), else one
   * after the other. `{ id: null }`: the checkpoint was refused (the pass no longer owns the lock,
   * or the step is recorded already), the transaction is left open for its rollback. `failed`:
   * which statement failed (`error`, tagged as an engine statement's failure); after a failed
   * `checkpoint` the transaction is open (aborted), after a failed `commit` it is over. @internal
   */
  async completeStepAndCommit(c: CheckpointArgs, tx: StepTransaction): Promise<StepCommit> {
    const store = {
      claimWrite: (carrier: StateCarrier | undefined, runner: QueryRunner) =>
        this.claimWrite(carrier, runner),
      checkpoint: (args: CheckpointArgs, runner: QueryRunner) =>
        this.completeStepWith(args, runner),
      checkedText: this.sql.checkedCompletedStep,
      firstAttemptText: this.sql.checkedFirstAttempt,
      namedStatements: this.namedStatements,
    };
    return commitStep(store, c, tx);
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
}
