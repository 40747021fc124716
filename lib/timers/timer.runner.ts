import { Injectable } from '@nestjs/common';
import { DurableCallInStepError } from '../errors/durable-call-in-step.error.js';
import { ExecutionFailedError } from '../errors/execution-failed.error.js';
import { WaitConditionTimeoutError } from '../errors/wait-condition-timeout.error.js';
import { recordFailedAttempt } from '../steps/failed-attempt.js';
import { RetryPolicy, type RetryCounts } from '../retry/retry-policy.js';
import { crashPoint } from '../steps/fault-injector.js';
import { type RunScope } from '../run/run-scope.js';
import { HaltExecution } from '../run/halt-execution.js';
import { stepStorage } from '../run/call-storage.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type {
  WaitForSignalOptions,
  WaitUntilOptions,
} from '../options/workflow-options.interface.js';
import { toMs } from '../util/duration.util.js';
import { deserializeValue, serializeValue } from '../util/serialization.util.js';
import { TimerStore } from './timer.store.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The time-based primitives: each one is a step log whose deadline is stored when the step is
 * first reached (so it holds across restarts); a pass that arrives early re-checks and halts again.
 */
@Injectable()
export class TimerRunner {
  constructor(
    private readonly store: WorkflowStore,
    private readonly timers: TimerStore,
  ) {}

  /** Halts until `wakeAtMs()` (computed once, when the step is first reached). */
  async sleepUntil(scope: RunScope, stepName: string, wakeAtMs: () => number): Promise<void> {
    const log = scope.logs.get(stepName);
    if (log?.state === 'completed') {
      // Completed by this pass's acquire: reaching it is the pass's progress.
      if (scope.unreachedWakes.delete(stepName)) scope.noteProgress();
      return;
    }
    this.beforeWork(scope);
    const wakeAt =
      typeof log?.metadata.wake_at === 'string' ? Date.parse(log.metadata.wake_at) : wakeAtMs();
    const attempts = (log?.attempts ?? 0) + 1;
    const metadata = { ...(log?.metadata ?? {}), wake_at: iso(wakeAt) };
    if (scope.now() >= wakeAt) {
      await this.complete(scope, stepName, attempts, true, metadata);
      return;
    }
    if (!log) await this.pending(scope, stepName, attempts, metadata);
    scope.halt(wakeAt);
  }

  async waitUntil(
    scope: RunScope,
    stepName: string,
    check: () => unknown,
    options: WaitUntilOptions,
  ): Promise<true> {
    const log = scope.logs.get(stepName);
    if (log?.state === 'completed') return true;
    this.failedBefore(log, stepName);
    this.beforeWork(scope);
    const now = scope.now();
    const timeoutMs = toMs(options.timeout ?? '1h', 'waitUntil timeout');
    const everyMs = Math.max(1, toMs(options.checkEvery ?? '15m', 'waitUntil checkEvery'));
    const metadata = { timeout_at: iso(now + timeoutMs), ...(log?.metadata ?? {}) } as Record<
      string,
      unknown
    > & {
      timeout_at: string;
      retry_counts?: RetryCounts;
    };
    const timeoutAt = Date.parse(metadata.timeout_at);
    const attempts = (log?.attempts ?? 0) + 1;
    let met: unknown;
    try {
      met = await this.runCheck(scope, stepName, check);
    } catch (thrown) {
      if (thrown instanceof HaltExecution || thrown instanceof LockLostError) throw thrown;
      const err = scope.takeRefusal(stepName) ?? thrown;
      const policy = new RetryPolicy({
        maxAttempts: null,
        base: '1s',
        cap: '30s',
        retryOn: options.retryOn ?? [],
      });
      const counts = { ...(metadata.retry_counts ?? {}) };
      counts[policy.budgetKey] = (counts[policy.budgetKey] ?? 0) + 1;
      // A timer, signal wait, spawn or merge in the check is a bug in it: never retried.
      const retry =
        now < timeoutAt && !(err instanceof DurableCallInStepError) && policy.matches(err);
      await this.fail(scope, stepName, attempts, retry, { ...metadata, retry_counts: counts }, err);
      if (retry) scope.halt(Math.min(now + policy.backoffFor(counts[policy.budgetKey]), timeoutAt));
      throw new ExecutionFailedError(stepName, attempts, err);
    }
    if (met) {
      await this.complete(scope, stepName, attempts, true, metadata);
      return true;
    }
    if (now >= timeoutAt) {
      const timeout = new WaitConditionTimeoutError(stepName, attempts, new Date(timeoutAt));
      await this.fail(
        scope,
        stepName,
        attempts,
        false,
        { ...metadata, result: 'timed_out' },
        timeout,
      );
      throw timeout;
    }
    await this.pending(scope, stepName, attempts, metadata);
    scope.halt(Math.min(now + everyMs, timeoutAt));
  }

  async continueIf(scope: RunScope, stepName: string, check: () => unknown): Promise<true> {
    const log = scope.logs.get(stepName);
    if (log?.state === 'completed') return true;
    this.failedBefore(log, stepName);
    this.beforeWork(scope);
    const attempts = (log?.attempts ?? 0) + 1;
    const metadata = { ...(log?.metadata ?? {}) };
    let met: unknown;
    try {
      met = await this.runCheck(scope, stepName, check);
    } catch (thrown) {
      if (thrown instanceof HaltExecution || thrown instanceof LockLostError) throw thrown;
      const err = scope.takeRefusal(stepName) ?? thrown;
      await this.fail(scope, stepName, attempts, false, metadata, err);
      throw new ExecutionFailedError(stepName, attempts, err);
    }
    if (met) {
      await this.complete(scope, stepName, attempts, true, metadata);
      return true;
    }
    await this.pending(scope, stepName, attempts, metadata);
    scope.halt(null);
  }

  async waitForSignal<T>(
    scope: RunScope,
    stepName: string,
    name: string,
    options: WaitForSignalOptions,
  ): Promise<T> {
    const log = scope.logs.get(stepName);
    if (log?.state === 'completed') return deserializeValue<T>(log.result);
    if (log?.state === 'failed') {
      throw new WaitConditionTimeoutError(
        stepName,
        log.attempts,
        new Date(String(log.metadata.timeout_at)),
      );
    }
    this.beforeWork(scope);
    const now = scope.now();
    const metadata: Record<string, unknown> = { ...(log?.metadata ?? {}) };
    // NOTE: a wait without a stored deadline is new, or was retried after timing out (retry drops
    // `timeout_at`): its timeout starts now.
    const fresh = options.timeout !== undefined && typeof metadata.timeout_at !== 'string';
    if (fresh && options.timeout !== undefined)
      metadata.timeout_at = iso(now + toMs(options.timeout, 'waitForSignal timeout'));
    const attempts = (log?.attempts ?? 0) + 1;
    crashPoint(scope, stepName, 'before');
    const payload = await this.timers.consumeSignal(
      scope.run.id,
      scope.owner,
      stepName,
      name,
      attempts,
      metadata,
      scope,
    );
    if (payload) {
      crashPoint(scope, stepName, 'after');
      scope.logs.set(stepName, {
        id: '',
        step_name: stepName,
        state: 'completed',
        attempts,
        result: payload,
        metadata,
      });
      return deserializeValue<T>(payload);
    }
    const timeoutAt =
      typeof metadata.timeout_at === 'string' ? Date.parse(metadata.timeout_at) : null;
    if (timeoutAt !== null && now >= timeoutAt) {
      const timeout = new WaitConditionTimeoutError(stepName, attempts, new Date(timeoutAt));
      await this.fail(scope, stepName, attempts, false, metadata, timeout);
      throw timeout;
    }
    if (!log || fresh) await this.pending(scope, stepName, attempts, metadata);
    scope.halt(timeoutAt);
  }

  /** Runs a wait check; a durable call it made and caught (refused in a check) fails it all the same. */
  private async runCheck(
    scope: RunScope,
    stepName: string,
    check: () => unknown,
  ): Promise<unknown> {
    const met = await stepStorage.run(stepName, check);
    const refused = scope.takeRefusal(stepName);
    if (refused) throw refused;
    return met;
  }

  /** Before new work (a write, a check, a signal consumption): not once the pass halted or lost its lock. */
  private beforeWork(scope: RunScope): void {
    scope.assertCanWork();
  }

  private failedBefore(
    log: { state: string; attempts: number } | undefined,
    stepName: string,
  ): void {
    if (log?.state === 'failed') throw new ExecutionFailedError(stepName, log.attempts);
  }

  private async complete(
    scope: RunScope,
    stepName: string,
    attempts: number,
    value: unknown,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    const result = serializeValue(value);
    crashPoint(scope, stepName, 'before');
    const id = await this.store.completeStep(
      scope.run.id,
      scope.owner,
      stepName,
      attempts,
      result,
      metadata,
      new Date(),
      undefined,
      false,
      scope,
    );
    if (id === null) throw new LockLostError(scope.run.id);
    crashPoint(scope, stepName, 'after');
    scope.logs.set(stepName, {
      id,
      step_name: stepName,
      state: 'completed',
      attempts,
      result,
      metadata,
    });
  }

  private async pending(
    scope: RunScope,
    stepName: string,
    attempts: number,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    const id = await this.store.savePendingLog(
      scope.run.id,
      scope.owner,
      stepName,
      attempts,
      metadata,
      scope,
    );
    scope.logs.set(stepName, {
      id,
      step_name: stepName,
      state: 'pending',
      attempts,
      result: null,
      metadata,
    });
  }

  private async fail(
    scope: RunScope,
    stepName: string,
    attempts: number,
    retry: boolean,
    metadata: Record<string, unknown>,
    err: unknown,
  ): Promise<void> {
    await recordFailedAttempt(
      this.store,
      scope,
      stepName,
      attempts,
      retry ? 'pending' : 'failed',
      metadata,
      err,
      new Date(),
    );
  }
}
