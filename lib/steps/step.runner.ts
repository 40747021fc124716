import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import { ExecutionFailedError } from '../errors/execution-failed.error.js';
import type { StepOptions } from '../options/workflow-options.interface.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { CheckpointArgs, LogRow } from '../persistence/rows.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { SerializationError } from '../errors/serialization.error.js';
import { DurableCallInStepError } from '../errors/durable-call-in-step.error.js';
import { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import { ChronoForgeTracer } from '../observability/chrono-forge-tracer.js';
import { LimitGate } from '../limits/limit-gate.js';
import { assertUserName } from '../util/names.util.js';
import { deserializeValue, serializeValue, type StoredValue } from '../util/serialization.util.js';
import { failStep, type StepFailure, type StepMetadata } from './step-failure.js';
import { type CrashPhase, FaultInjector } from './fault-injector.js';
import { activeScope, type RunScope } from '../run/run-scope.js';
import { HaltExecution } from '../run/halt-execution.js';
import { stepStorage, transactionStorage } from '../run/call-storage.js';
import { engineStatement } from '../database/engine-statement.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { stepStatementFailure, unbalancedTransaction } from './step-sql-errors.js';
import { beginStepTransaction, observeStep } from './step-support.js';
import { type CompensationCall, noteCompensation } from '../lifecycle/compensations.js';
import { AbortWatcher } from '../lifecycle/abort-watcher.js';
import { runAttempt } from '../lifecycle/step-attempt.js';
import { isPassAbort } from '../lifecycle/abort-signals.js';
import { pastDeadline } from '../lifecycle/deadline.js';
import { toTimeoutMs } from '../definitions/lifecycle-options.js';
import { WorkflowInterceptors } from '../interceptors/workflow-interceptors.js';
import { InterceptorNextError } from '../errors/interceptor-next.error.js';

/**
 * Runs memoized durable steps (`@DurableStep` methods and `ctx.step()`): return the stored result
 * on replay, otherwise execute, record the result in one statement, or record the failure and
 * either schedule a retry (halting the pass) or raise `ExecutionFailedError`.
 */
@Injectable()
export class StepRunner {
  constructor(
    private readonly store: WorkflowStore,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
    private readonly faults: FaultInjector,
    private readonly db: ChronoForgeDatabase,
    private readonly metrics: ChronoForgeMetrics,
    private readonly tracer: ChronoForgeTracer,
    private readonly limits: LimitGate,
    private readonly watcher: AbortWatcher,
    private readonly interceptors: WorkflowInterceptors,
  ) {}

  /**
   * Runs `fn` as step `step$<name>` of the current run, or plainly outside a run. `compensation`
   * (called with the step's result) is registered with the run's pass once the step completed.
   */
  run<T>(
    name: string,
    fn: () => T | Promise<T>,
    options: StepOptions = {},
    compensation?: CompensationCall,
  ): Promise<T> {
    const scope = activeScope();
    if (!scope) return (async () => fn())();
    try {
      assertUserName(name, 'Step');
    } catch (err) {
      return Promise.reject(err);
    }
    const stepName = scope.nextStepName(`step$${name}`);
    // The tracked promise itself (no async wrapper): a floating step never rejects unhandled.
    return scope.track(() => this.execute(scope, stepName, fn, options, compensation));
  }

  /** Runs `fn` as the engine-named durable step `stepName` of `scope` (e.g. a compensation). */
  runAs<T>(
    scope: RunScope,
    stepName: string,
    fn: () => T | Promise<T>,
    options: StepOptions,
  ): Promise<T> {
    return scope.track(() => this.execute(scope, stepName, fn, options));
  }

  private async execute<T>(
    scope: RunScope,
    stepName: string,
    fn: () => T | Promise<T>,
    options: StepOptions,
    compensation?: CompensationCall,
  ): Promise<T> {
    const completed = (result: StoredValue | null): T => {
      const value = deserializeValue<T>(result);
      if (compensation) noteCompensation(scope, stepName, compensation, value, options);
      return value;
    };
    const existing = scope.logs.get(stepName);
    if (existing?.state === 'completed') {
      await scope.replayTurn(existing.id);
      return completed(existing.result);
    }
    // A recorded failure replays too (no new work): a rollback's replay passes a failure the
    // workflow caught and goes on to the compensated steps after it.
    if (existing?.state === 'failed') {
      await scope.replayTurn(existing.id);
      throw new ExecutionFailedError(stepName, existing.attempts);
    }
    scope.assertCanWork();
    const metadata: StepMetadata = { ...(existing?.metadata ?? {}) };
    const attempts = (existing?.attempts ?? 0) + 1;
    // Past the run's deadline, the next pass ends the run (see `pastDeadline`).
    if (scope.isDraining() || pastDeadline(scope)) scope.halt(scope.now());
    const timeoutMs = toTimeoutMs(options.timeout, `timeout of step "${stepName}"`);
    // Before the transaction: a refused step halts the pass holding nothing.
    let beforeBody: (() => Promise<void> | undefined) | undefined;
    if (options.limit !== undefined) {
      beforeBody = await this.limits.admitStep(scope, stepName, options.limit);
      metadata.limited = true;
    }

    const startedAt = new Date();
    const tx = options.transactional
      ? await beginStepTransaction(this.db, options, scope)
      : undefined;
    let value: T;
    let stored!: StoredValue;
    let id: string | null = null;
    let phase: 'checkpoint' | 'commit' | undefined;
    let ownFailure: unknown;
    try {
      try {
        // The step's `timeout` bounds the body alone, not a late grant's new admission before it.
        const attempt = () => this.interceptors.step(scope, stepName, attempts, fn);
        const body = () =>
          runAttempt(scope, stepName, timeoutMs, this.watcher, () =>
            tx ? transactionStorage.run(tx.runner.manager, attempt) : attempt(),
          );
        // A limited step checks its lease again right before the body: the admission (and a late
        // grant's new one) awaited the database, and a pass stalled there past its lock's lifetime
        // may have been taken over meanwhile (found by the chaos suite's limited runs).
        const checked = () => {
          scope.assertCanWork();
          return body();
        };
        const run = () =>
          stepStorage.run(stepName, () =>
            beforeBody ? (beforeBody()?.then(checked) ?? checked()) : body(),
          );
        value = await observeStep(this.tracer, this.metrics, scope, stepName, attempts, run);
        // A refused durable call inside the body fails the step even when the body caught it.
        const refused = scope.takeRefusal(stepName);
        if (refused) throw refused;
        const unbalanced = tx && unbalancedTransaction(stepName, tx.balanced);
        if (unbalanced) throw unbalanced;
        stored = serializeValue(value);
      } catch (err) {
        await tx?.rollback().catch(() => undefined);
        // A pass that halted, lost its lock, crashed or hit an engine fault records nothing more;
        // nor does a body that stopped because the pass aborted it (a deadline, a cancel).
        if (
          err instanceof HaltExecution ||
          err instanceof LockLostError ||
          scope.crashed ||
          scope.fault ||
          isPassAbort(scope, err)
        )
          throw err;
        // A refused durable call is the root cause even when the body then threw something else.
        const failure = scope.takeRefusal(stepName) ?? err;
        // A result that cannot be stored, or a durable call the body may not make, is a bug in
        // the step: retrying cannot fix it.
        const bug =
          failure instanceof SerializationError ||
          failure instanceof DurableCallInStepError ||
          failure instanceof InterceptorNextError;
        const retry = bug ? { retry: [] } : options;
        return await this.fail({
          scope,
          stepName,
          attempts,
          metadata,
          err: failure,
          startedAt,
          options: retry,
        });
      }
      this.crashPoint(scope, stepName, 'before');
      // A sibling call may have found the lock gone while this body ran: write nothing more.
      scope.assertOwned();
      const checkpoint: CheckpointArgs = {
        workflowId: scope.run.id,
        owner: scope.owner,
        stepName,
        attempts,
        result: stored,
        metadata: { ...metadata },
        startedAt,
        fresh: existing === undefined,
        carrier: scope,
        anyId: true,
      };
      if (tx) {
        // The checkpoint and COMMIT (one round trip where the driver allows it): `phase` is the
        // statement that failed.
        phase = 'checkpoint';
        const done = await this.store.completeStepAndCommit(checkpoint, tx);
        if ('failed' in done) {
          phase = done.failed;
          throw done.error;
        }
        phase = undefined;
        id = done.id;
        // Refused: roll back the body's writes.
        if (id === null) await engineStatement(() => tx.rollback());
      } else id = await this.store.completeStepWith(checkpoint);
    } catch (err) {
      if (tx?.active) await tx.rollback().catch(() => undefined);
      // The body's own statements made the checkpoint or COMMIT fail: the step's failure, below.
      ownFailure = tx && phase ? stepStatementFailure(stepName, err, phase) : undefined;
      if (ownFailure === undefined || scope.crashed || scope.lost || scope.fault) throw err;
    } finally {
      await tx?.release();
    }
    if (ownFailure !== undefined)
      return this.fail({
        scope,
        stepName,
        attempts,
        metadata,
        err: ownFailure,
        startedAt,
        options,
      });
    if (id === null) {
      // A refused checkpoint: when another pass (or a cancel) took the run, end this pass here —
      // never adopt the new owner's result and go on, which would run the next bodies twice. When
      // the lock is still ours, the step was recorded by the owner this pass took over from (its
      // checkpoint committed while our acquire waited on its row lock, so our read missed it).
      const recorded = await this.store.findOwnedCompletedLog(scope.run.id, scope.owner, stepName);
      if (!recorded) scope.lockLost();
      scope.logs.set(stepName, recorded);
      return completed(recorded.result);
    }
    this.crashPoint(scope, stepName, 'after');
    const log: LogRow = {
      id,
      step_name: stepName,
      state: 'completed',
      attempts,
      result: stored,
      metadata: { ...metadata },
    };
    scope.logs.set(stepName, log);
    return completed(stored);
  }

  private crashPoint(scope: RunScope, stepName: string, phase: CrashPhase): void {
    try {
      this.faults.checkpoint(scope.run.key, stepName, phase);
    } catch (err) {
      scope.markCrashed();
      throw err;
    }
  }

  /** Records a failed attempt (see {@link failStep}): retried later, or failed; throws. */
  private fail(failure: StepFailure): Promise<never> {
    return failStep(this.store, this.options.defaultStepRetry, failure);
  }
}
