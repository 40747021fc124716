import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { LogRow } from '../persistence/rows.js';
import { type WakeEligibility, WorkflowStore } from '../persistence/workflow.store.js';
import type { AcquireResult } from '../persistence/acquire-result.js';
import { wakeParent } from '../queue/parent-wake.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { ChronoForgeClock } from '../util/clock.js';
import { BranchRunner } from '../branches/branch.runner.js';
import { ChronoForgeMetrics, type PassOutcome } from '../observability/chrono-forge-metrics.js';
import { ChronoForgeTracer } from '../observability/chrono-forge-tracer.js';
import { LimitGate } from '../limits/limit-gate.js';
import { serializeValue } from '../util/serialization.util.js';
import { toErrorRecord } from '../run/error-record.js';
import { RunScope, runStorage } from '../run/run-scope.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { crashesArmed } from '../steps/fault-injector.js';
import { RollbackRunner } from '../sagas/rollback.runner.js';
import type { PassEnding } from '../sagas/pass-ending.js';
import {
  classifyError,
  divergenceOf,
  FAULT_COUNT_KEY,
  FAULT_RETRY_MAX_MS,
  FAULT_RETRY_MIN_MS,
  type Outcome,
  stalledBy,
} from './pass-outcome.js';
import { servesRun, UnservedRuns } from './unserved-runs.js';
import { afterPassRelease, type PassSettleEnv, settlePass } from './pass-settle.js';
import { noteWoken, putBackUnreached, wakeEligibility } from './woken-sleeps.js';
import { type PassRefusal, WorkflowInterceptors } from '../interceptors/workflow-interceptors.js';

/**
 * Executes one pass of a run: take the lock (reading every step log in the same round trip),
 * replay the workflow method from the top, then release the lock with the next state in one
 * statement and, only after that, enqueue the continuation.
 */
@Injectable()
export class WorkflowExecutor {
  private readonly logger = new Logger(WorkflowExecutor.name);
  /** Identifies this process in `locked_by`. */
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private draining = false;
  /** {@link WakeEligibility} of this worker, built at its first pass (the registry is complete). */
  private wakes: { eligibility: WakeEligibility | null; size: number } | undefined;

  constructor(
    private readonly store: WorkflowStore,
    private readonly registry: WorkflowRegistry,
    private readonly queue: WorkflowQueue,
    private readonly clock: ChronoForgeClock,
    private readonly branches: BranchRunner,
    private readonly metrics: ChronoForgeMetrics,
    private readonly tracer: ChronoForgeTracer,
    private readonly limits: LimitGate,
    private readonly rollback: RollbackRunner,
    private readonly unserved: UnservedRuns,
    private readonly interceptors: WorkflowInterceptors,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** From now on, passes stop at the next step boundary and hand the run to another worker. */
  drain(): void {
    this.draining = true;
  }

  /**
   * Runs one pass of run `workflowId`, triggered by job `jobId`; returns what taking its lock gave
   * (`'acquired'` once the pass ran).
   */
  async runPass(workflowId: string, jobId: string): Promise<AcquireResult['kind']> {
    const owner = `${this.workerId}/${jobId}`;
    const leaseStartedAt = performance.now();
    const acquired = await this.store.acquire(
      workflowId,
      owner,
      this.clock.now(),
      crashesArmed() ? null : this.wakeEligibility(),
    );
    if (acquired.kind === 'busy') this.metrics.lockConflicts.inc();
    if (acquired.kind !== 'acquired') return acquired.kind;
    const { run } = acquired;
    const definition = this.registry.get(run.job_name);
    if (!definition || !servesRun(definition, run)) {
      await this.unserved.leave(run, owner, definition);
      return 'acquired';
    }
    const logs = new Map<string, LogRow>(acquired.logs.map((l) => [l.step_name, l]));
    const scope = new RunScope(run, logs, definition, owner, () => this.draining, this.clock);
    scope.leaseStartedAt = leaseStartedAt;
    noteWoken(scope, acquired.logs, acquired.woken);
    const attributes = {
      'chronoforge.workflow': run.job_name,
      'chronoforge.key': run.key,
      'chronoforge.run_id': run.id,
    };
    await this.tracer.span('chronoforge.pass', attributes, async (span) => {
      const replays = !this.rollback.takesPass(scope);
      const label = await this.interceptors.pass(scope, replays, (refusal) =>
        this.execute(scope, jobId, refusal),
      );
      span.setAttribute('chronoforge.outcome', label ?? 'crashed');
      if (label) this.metrics.pass(run.job_name, label);
    });
    return 'acquired';
  }

  /**
   * The workflows whose due sleeps the acquire completes (see {@link WakeEligibility}), `null` when
   * none qualifies; rebuilt if workflows were registered since.
   */
  private wakeEligibility(): WakeEligibility | null {
    const size = this.registry.names().length;
    if (this.wakes?.size !== size)
      this.wakes = { eligibility: wakeEligibility(this.registry, this.interceptors), size };
    return this.wakes.eligibility;
  }

  /** Replays the workflow method (or throws an interceptor's `refusal`), records the pass. */
  private async execute(scope: RunScope, jobId: string, refusal?: PassRefusal) {
    // A rollback pass, or a run past its deadline: the sagas layer ends the pass.
    if (this.rollback.takesPass(scope)) return this.rollback.pass(scope, this.ending(scope, jobId));
    let returned: { value: unknown } | { error: unknown };
    try {
      if (refusal) throw refusal.error;
      const invoked = runStorage.run(scope, () => this.limits.invoke(scope));
      // Once the pass halted or lost its lock, its outcome is known: do not wait for a method
      // that catches every refusal and never returns (its later durable calls never start).
      returned = { value: await Promise.race([invoked, scope.stopped]) };
    } catch (err) {
      returned = { error: err };
    }
    // The pass ends only once every durable call it started has settled: a step still running
    // beside a sibling that halted (Promise.all) is recorded by this pass, not run again by the next.
    await scope.settle();
    if (scope.crashed) return undefined; // simulated process death: leave the lock as a dead worker would
    // A pass that lost its lock writes nothing more, whatever the method returned or caught.
    if (scope.lost || ('error' in returned && returned.error instanceof LockLostError))
      return 'lock_lost';
    let outcome: Outcome;
    // An engine statement failed: whatever the method did, a later pass continues the run.
    const diverged = divergenceOf(scope, !scope.halted && 'value' in returned);
    if (scope.fault) outcome = { kind: 'fault' };
    else if (diverged) outcome = { kind: 'diverged', error: diverged };
    else if ('error' in returned) outcome = classifyError(scope, returned.error);
    else outcome = scope.halted ? { kind: 'halt' } : { kind: 'complete', value: returned.value };
    try {
      return await this.finish(scope, jobId, outcome);
    } catch (err) {
      if (err instanceof LockLostError) return 'lock_lost';
      throw err;
    }
  }

  private async finish(scope: RunScope, jobId: string, outcome: Outcome): Promise<PassOutcome> {
    const { run, owner } = scope;
    // A sleep the acquire completed and the replay never reached (its code changed): as it was.
    await putBackUnreached(scope, (sleeps) =>
      this.settle(scope, () => this.store.unwake(run.id, owner, sleeps)),
    );
    const context = scope.contextDirty ? scope.context : null;
    // The positions of this pass's calls, stored with its ending (never a diverged pass's).
    const history = scope.divergence ? null : scope.history.toRecord(scope.logs);
    // NOTE: the workflow-level attempt count counts failed passes since the last progress (a
    // long run is not failed by errors spread over its life, each of which a retry fixed).
    const progressed = scope.progressed;
    const baseAttempt = progressed ? 0 : run.attempt;
    const baseCounts = progressed ? {} : run.retry_counts;
    if (outcome.kind === 'complete') {
      let stored;
      try {
        this.branches.assertAllMerged(scope);
        stored = serializeValue(outcome.value);
      } catch (err) {
        return this.finish(scope, jobId, { kind: 'error', error: err, retryable: false });
      }
      const done = await this.settle(scope, () =>
        this.store.complete(run.id, owner, stored, context, history, run.has_parent !== false),
      );
      if (done) await wakeParent(this.queue, this.logger, done);
      return done ? 'completed' : 'lock_lost';
    }
    if (outcome.kind === 'fault') {
      const faults = (progressed ? 0 : (run.retry_counts[FAULT_COUNT_KEY] ?? 0)) + 1;
      const delay = Math.min(FAULT_RETRY_MIN_MS * 2 ** (faults - 1), FAULT_RETRY_MAX_MS);
      this.logger.warn(
        `${scope.fault?.message ?? 'An engine statement failed'}; next pass in ${delay} ms`,
      );
      // The durable state is not written: what changed since the last checkpoint is made again
      // by the next pass, which replays from that checkpoint.
      const spec = {
        state: 'idle' as const,
        nextRunAt: new Date(this.clock.now() + delay),
        attempt: baseAttempt,
        retryCounts: { ...baseCounts, [FAULT_COUNT_KEY]: faults },
        context: null,
        history,
      };
      const released = await this.settle(scope, () => this.store.release(run.id, owner, spec));
      if (!released) return 'lock_lost';
      await this.afterRelease(scope, jobId, released.nextRunAt);
      return 'halted';
    }
    if (outcome.kind === 'diverged') {
      const spec = stalledBy(scope, outcome.error, baseAttempt, baseCounts);
      const released = await this.settle(scope, () => this.store.release(run.id, owner, spec));
      return released ? 'stalled' : 'lock_lost';
    }
    if (outcome.kind === 'halt' || outcome.kind === 'stall') {
      const rollback =
        outcome.kind === 'stall' &&
        (await this.rollback.begin(scope, 'stalled', null, baseAttempt, this.ending(scope, jobId)));
      if (rollback) return rollback;
      const spec = {
        state: outcome.kind === 'halt' ? ('idle' as const) : ('stalled' as const),
        nextRunAt: outcome.kind === 'halt' && scope.wakeAt != null ? new Date(scope.wakeAt) : null,
        attempt: baseAttempt,
        retryCounts: baseCounts,
        context,
        stalledStep: outcome.kind === 'stall' ? outcome.stepName : null,
        history,
      };
      const released = await this.settle(scope, () => this.store.release(run.id, owner, spec));
      if (!released) return 'lock_lost';
      await this.afterRelease(scope, jobId, released.nextRunAt);
      return outcome.kind === 'halt' ? 'halted' : 'stalled';
    }
    const attempt = baseAttempt + 1;
    const counts = { ...baseCounts };
    const policy = scope.definition.retry ?? this.options.defaultRetry;
    const decision = outcome.retryable ? policy.decide(outcome.error, attempt, counts) : null;
    const error = toErrorRecord(outcome.error, scope.context);
    if (!decision) {
      const end = this.ending(scope, jobId);
      const rollback = await this.rollback.begin(scope, 'failed', outcome.error, attempt, end);
      if (rollback) return rollback;
      const failed = await this.settle(scope, () =>
        this.store.fail(run.id, owner, attempt, error, context, history),
      );
      if (failed) await wakeParent(this.queue, this.logger, failed);
      return failed ? 'failed' : 'lock_lost';
    }
    const nextRunAt = new Date(this.clock.now() + decision.delayMs);
    const released = await this.settle(scope, () =>
      this.store.release(run.id, owner, {
        state: 'idle',
        nextRunAt,
        attempt,
        retryCounts: counts,
        context,
        error,
        history,
      }),
    );
    if (!released) return 'lock_lost';
    await this.afterRelease(scope, jobId, released.nextRunAt);
    return 'retrying';
  }

  /** Runs the statement that ends a pass until it goes through (see {@link settlePass}). */
  private settle<T>(scope: RunScope, write: () => Promise<T>): Promise<T> {
    return settlePass(scope, write, this.settleEnv());
  }

  /** The executor's way to end a pass, for a pass the sagas layer ends. */
  private ending(scope: RunScope, jobId: string): PassEnding {
    return {
      settle: (write) => this.settle(scope, write),
      afterRelease: (nextRunAt) => this.afterRelease(scope, jobId, nextRunAt),
    };
  }

  /** The pass's after-release actions, then its continuation (see {@link afterPassRelease}). */
  private afterRelease(scope: RunScope, jobId: string, nextRunAt: Date | null): Promise<void> {
    return afterPassRelease(scope, jobId, nextRunAt, this.settleEnv());
  }

  private settleEnv(): PassSettleEnv {
    const { store, queue, logger } = this;
    return { store, queue, logger, draining: () => this.draining };
  }
}
