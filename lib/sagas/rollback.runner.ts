import { Injectable, Logger } from '@nestjs/common';
import {
  COMPENSATION_PREFIX,
  compensationsOf,
  type PendingCompensation,
} from '../lifecycle/compensations.js';
import type { PassOutcome } from '../observability/chrono-forge-metrics.js';
import type { CompensateOn } from '../options/workflow-options.interface.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { toErrorRecord } from '../run/error-record.js';
import { type RunScope, runStorage } from '../run/run-scope.js';
import { StepRunner } from '../steps/step.runner.js';
import { CollectingScope } from './collecting-scope.js';
import type { PassEnding } from './pass-ending.js';
import { SagaStore } from './saga.store.js';
import { DeadlineEnforcer } from './deadline-enforcer.js';
import { pastDeadline } from '../lifecycle/deadline.js';
import { wakeParent } from '../queue/parent-wake.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { ON_CANCEL_STEP } from '../lifecycle/on-cancel.js';
import type { CancelInfo } from '../options/on-cancel-options.interface.js';
import { AbortWatcher } from '../lifecycle/abort-watcher.js';

/** What {@link SagaStore.rollbackOrder} returns. */
type RollbackOrder = Awaited<ReturnType<SagaStore['rollbackOrder']>>;

/** Wait before the pass that follows a rollback pass in which an engine statement failed. */
const FAULT_RETRY_MS = 1_000;
/** How often a rollback waiting for its children's rollbacks looks again. */
const CHILDREN_RECHECK_MS = 1_000;
/** How often a rollback waiting for the step bodies of the cancelled pass looks again. */
const BODIES_RECHECK_MS = 250;

/**
 * Rolls runs back. A failing pass whose workflow rolls back on that outcome hands the run over
 * (`compensating`); each rollback pass then replays the workflow method to find the compensations
 * of its completed steps (no step body runs: the first call that would do new work ends the
 * replay), and runs them last-completed first, each as the durable step `$compensate$<step>`:
 * recorded once, retried by its own policy (a retry halts the pass, as a step retry does), skipped
 * on replay. A compensation that exhausts its retries is listed and the rollback goes on.
 *
 * Children go before the parent's steps completed before their branch started: on reaching such
 * a step, the pass moves the completed children of the branches started after it (that never
 * rolled back) to `compensating` (cause `byParent`) and waits, looking again every second, until
 * no child of such a branch is still `compensating` (children a cancel with `children` moved are
 * waited for the same way). A rollback ends only after every child of the run rolled back.
 */
@Injectable()
export class RollbackRunner {
  private readonly logger = new Logger('ChronoForgeParentWake');

  constructor(
    private readonly sagas: SagaStore,
    private readonly workflows: WorkflowStore,
    private readonly steps: StepRunner,
    private readonly deadlines: DeadlineEnforcer,
    private readonly queue: WorkflowQueue,
    private readonly watcher: AbortWatcher,
  ) {}

  /**
   * Ends a pass that would fail or stall the run (`cause`) by starting its rollback instead, when
   * the workflow rolls back on `cause` and the pass reached a completed step with a compensation.
   * Returns the pass's outcome, or `null` when the run does not roll back.
   */
  async begin(
    scope: RunScope,
    cause: CompensateOn,
    error: unknown,
    attempt: number,
    end: PassEnding,
  ): Promise<PassOutcome | null> {
    if (!scope.definition.compensateOn.includes(cause) || compensationsOf(scope).size === 0)
      return null;
    const record = cause === 'failed' ? toErrorRecord(error, scope.context) : null;
    const context = scope.contextDirty ? scope.context : null;
    const { run, owner } = scope;
    const begun = await end.settle(() =>
      this.sagas.beginRollback(run.id, owner, cause, attempt, record, context),
    );
    if (!begun) return 'lock_lost';
    await end.afterRelease(begun.nextRunAt);
    return 'compensating';
  }

  /**
   * Begins the rollback of the run's completed children of the branches started after step
   * `afterStep` completed (`null`: all), wakes them once that is durable, and halts the pass to
   * look again soon. A failed statement faults the pass (the next one moves them).
   */
  private async awaitChildren(scope: RunScope, afterStep: string | null): Promise<void> {
    const moved = await this.sagas
      .rollBackChildren(scope.run.id, scope.owner, afterStep)
      .catch((err) => {
        scope.markFaulted(err);
        return [];
      });
    // NOTE: a lost enqueue is found by the recovery sweep (an overdue `compensating` run).
    await Promise.all(
      moved.map((c) => this.queue.enqueueRun(c.id, c.nextRunAt).catch(() => undefined)),
    );
    try {
      scope.halt(scope.now() + CHILDREN_RECHECK_MS);
    } catch {
      // NOTE: halt() throws HaltExecution; the pass ends as halted.
    }
  }

  /**
   * Runs the compensations of `order` in order, into `compensated` and `failed`; children go
   * before the steps completed before their branch started. Ends early when the pass halts.
   */
  private async compensateSteps(
    scope: RunScope,
    pending: ReadonlyMap<string, PendingCompensation>,
    order: RollbackOrder,
    compensated: string[],
    failed: string[],
  ): Promise<void> {
    for (const { name: stepName, waits } of order.steps) {
      if (waits) return this.awaitChildren(scope, stepName);
      const { run: undo, options } = pending.get(stepName)!;
      const name = `${COMPENSATION_PREFIX}${stepName}`;
      try {
        await this.steps.runAs(scope, name, undo, options);
        compensated.push(stepName);
      } catch {
        // Halted (a retry), lost, crashed or faulted: the next pass goes on from here.
        if (scope.halted || scope.lost || scope.crashed || scope.fault) return;
        // Exhausted its retries (ExecutionFailedError), or could not run: listed, and the
        // rollback goes on.
        failed.push(name);
      }
    }
    // Children of branches older than every compensated step: the rollback ends after theirs.
    if (order.childrenPending) return this.awaitChildren(scope, null);
  }

  /**
   * Runs the `@OnCancel()` cleanup of a cancelled run as the durable step `$oncancel$` (recorded
   * once, retried by its policy, skipped on replay); one that exhausts its retries is listed in
   * `failed`, as a compensation is.
   */
  private async cleanUp(scope: RunScope, compensated: boolean, failed: string[]): Promise<void> {
    const { definition, run } = scope;
    const onCancel = definition.onCancel!;
    const info: CancelInfo = { reason: run.cancel_reason ?? null, compensated };
    try {
      await this.steps.runAs(
        scope,
        ON_CANCEL_STEP,
        () => onCancel.call(definition.toInput(run.input), info),
        onCancel.options,
      );
    } catch {
      if (scope.halted || scope.lost || scope.crashed || scope.fault) return;
      failed.push(ON_CANCEL_STEP);
    }
  }

  /** Whether this layer takes the pass: a rollback, or a run past its deadline. */
  takesPass(scope: RunScope): boolean {
    return scope.run.state === 'compensating' || pastDeadline(scope);
  }

  /** A pass {@link takesPass} took: one rollback pass (see the class), or the deadline's end. */
  async pass(scope: RunScope, end: PassEnding): Promise<PassOutcome | undefined> {
    if (scope.run.state !== 'compensating') return this.deadlines.enforce(scope, end);
    const { run, owner } = scope;
    // A step body of the pass a cancel took the run from still runs here: undo or clean up after
    // it has ended, not beside it (looked at again soon).
    if (this.watcher.bodiesInFlight(run.id, scope)) return this.lookAgain(scope, end);
    const failed: string[] = [];
    const compensated: string[] = [];
    // A cancel that only runs the `@OnCancel()` cleanup compensates nothing.
    const compensates = run.compensation?.compensate !== false;
    const collect = CollectingScope.of(scope);
    if (compensates) {
      try {
        const invoked = runStorage.run(collect, () => scope.definition.invoke(run.input));
        await Promise.race([invoked, collect.stopped]);
      } catch {
        // NOTE: the replay only collects compensations; how the method ends does not matter.
      }
      await collect.settle();
      if (collect.crashed) return undefined;
      if (collect.lost) return 'lock_lost';
    }
    if (compensates && !collect.fault) {
      const pending = compensationsOf(collect);
      const order = await this.sagas.rollbackOrder(run.id, [...pending.keys()]).catch((err) => {
        scope.markFaulted(err);
        return { steps: [], childrenPending: false };
      });
      if (!scope.fault)
        await runStorage.run(scope, () =>
          this.compensateSteps(scope, pending, order, compensated, failed),
        );
    }
    const ended = !(collect.fault || scope.fault || scope.halted || scope.lost || scope.crashed);
    // NOTE: `compensated` tells the cleanup whether a compensation ran (completed or exhausted
    // its retries): a rollback asked for with nothing to compensate left the state as it was.
    const ranAny = compensated.length + failed.length > 0;
    if (ended && run.compensation?.cause === 'cancelled' && scope.definition.onCancel)
      await runStorage.run(scope, () => this.cleanUp(scope, ranAny, failed));
    await scope.settle();
    if (scope.crashed) return undefined;
    if (scope.lost) return 'lock_lost';
    const context = scope.contextDirty ? scope.context : null;
    if (collect.fault || scope.fault || scope.halted) {
      const retryAt = scope.now() + (scope.halted ? 0 : FAULT_RETRY_MS);
      const nextRunAt = new Date(scope.halted && scope.wakeAt != null ? scope.wakeAt : retryAt);
      return this.releaseCompensating(scope, end, nextRunAt, context);
    }
    const done = await end.settle(() =>
      this.sagas.endRollback(run.id, owner, failed, compensated, context),
    );
    if (done === undefined) return 'lock_lost';
    await wakeParent(this.queue, this.logger, done.ended);
    return done.state as PassOutcome;
  }

  /** Ends a rollback pass that did nothing: the run stays `compensating`, due in a moment. */
  private lookAgain(scope: RunScope, end: PassEnding): Promise<PassOutcome> {
    return this.releaseCompensating(scope, end, new Date(scope.now() + BODIES_RECHECK_MS), null);
  }

  /**
   * Ends a rollback pass before the rollback ended: releases the run `compensating`, due at
   * `nextRunAt` (with the durable state `context` when the pass changed it).
   */
  private async releaseCompensating(
    scope: RunScope,
    end: PassEnding,
    nextRunAt: Date,
    context: Record<string, unknown> | null,
  ): Promise<PassOutcome> {
    const { run, owner } = scope;
    const released = await end.settle(() =>
      this.workflows.release(run.id, owner, {
        state: 'compensating',
        nextRunAt,
        context,
        attempt: run.attempt,
        retryCounts: run.retry_counts,
      }),
    );
    if (!released) return 'lock_lost';
    await end.afterRelease(released.nextRunAt);
    return 'halted';
  }
}
