import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { RepeatDefinition } from '../definitions/method-definitions.js';
import { DurableCallInStepError } from '../errors/durable-call-in-step.error.js';
import { ExecutionFailedError } from '../errors/execution-failed.error.js';
import { toErrorRecord } from '../run/error-record.js';
import { crashPoint } from '../steps/fault-injector.js';
import type { RetryCounts, RetryStrategy } from '../retry/retry-policy.js';
import { resolveStepRetry } from '../retry/step-retry.js';
import { type RunScope } from '../run/run-scope.js';
import { HaltExecution } from '../run/halt-execution.js';
import { stepStorage } from '../run/call-storage.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { serializeValue } from '../util/serialization.util.js';
import { alignPosition, RepeatSchedule } from '../definitions/repeat-schedule.js';
import { type Coordination, tillMet } from './repeat-coordination.js';
import { RepeatStore, type TickWrite } from './repeat.store.js';
import { WorkflowInterceptors } from '../interceptors/workflow-interceptors.js';
import { InterceptorNextError } from '../errors/interceptor-next.error.js';

type Method = (...args: unknown[]) => unknown;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * chrono_forge's `durably_repeat`: a coordination log `durably_repeat$<name>` and one log per
 * tick `durably_repeat$<name>$<epoch-ms>`. Ticks missed by more than `timeout` collapse into one
 * summary row in O(1) writes; the first tick inside the window still runs.
 */
@Injectable()
export class RepeatRunner {
  constructor(
    private readonly store: WorkflowStore,
    private readonly repeats: RepeatStore,
    private readonly interceptors: WorkflowInterceptors,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  async run(
    scope: RunScope,
    def: RepeatDefinition,
    self: object,
    method: Method,
    args: unknown[],
  ): Promise<void> {
    const coordName = scope.nextStepName(`durably_repeat$${def.name}`);
    scope.assertOwned(); // a repeat that diverged from the run's history does not run
    let coord = scope.logs.get(coordName);
    if (coord?.state === 'completed') return;
    const { timeoutMs } = def;
    const policy = resolveStepRetry(
      def.retry,
      'repeat retry',
      scope.definition.retry,
      this.options.defaultStepRetry,
    );
    for (;;) {
      // Before every tick: not once the pass halted or lost its lock (a parallel sibling's doing).
      scope.assertCanWork();
      if (await tillMet(self, args, def, coordName)) {
        crashPoint(scope, coordName, 'before');
        const id = await this.store.completeStep(
          scope.run.id,
          scope.owner,
          coordName,
          (coord?.attempts ?? 0) + 1,
          null,
          coord?.metadata ?? {},
          new Date(),
        );
        if (id === null) throw new LockLostError(scope.run.id);
        crashPoint(scope, coordName, 'after');
        return;
      }
      let state = coord?.metadata as Coordination | undefined;
      if (!state) {
        const anchor = def.startAt
          ? def.startAt.getTime()
          : scope.now() + new RepeatSchedule(def.every, 0, def.timeZone).approxMs;
        state = { anchor: iso(anchor), last_index: null, last_execution_at: null };
        const id = await this.store.savePendingLog(scope.run.id, scope.owner, coordName, 1, state);
        coord = {
          id,
          step_name: coordName,
          state: 'pending',
          attempts: 1,
          result: null,
          metadata: state,
        };
        scope.logs.set(coordName, coord);
      }
      state = await this.align(scope, coordName, state, def);
      const schedule = new RepeatSchedule(def.every, Date.parse(state.anchor), def.timeZone);
      let index = state.last_index === null ? 0 : state.last_index + 1;
      const now = scope.now();
      const firstValid = schedule.indexAtOrAfter(now - timeoutMs);
      if (index < firstValid) {
        const lastSkipped = schedule.tick(firstValid - 1);
        state = await this.advance(scope, coordName, state, firstValid - 1, lastSkipped, {
          name: `${coordName}$${lastSkipped}`,
          state: 'failed',
          attempts: 0,
          errorClass: 'TimeoutError',
          errorMessage: `Fast-forwarded ${firstValid - index} expired tick(s)`,
          metadata: {
            fast_forwarded: firstValid - index,
            from: iso(schedule.tick(index)),
            to: iso(lastSkipped),
            timeout_at: iso(lastSkipped + timeoutMs),
          },
        });
        index = firstValid;
      }
      const scheduled = schedule.tick(index);
      if (scheduled > now) scope.halt(scheduled);
      state = await this.runTick(
        scope,
        coordName,
        state,
        index,
        scheduled,
        self,
        method,
        args,
        def,
        policy,
      );
      coord = scope.logs.get(coordName);
    }
  }

  private async runTick(
    scope: RunScope,
    coordName: string,
    state: Coordination,
    index: number,
    scheduled: number,
    self: object,
    method: Method,
    args: unknown[],
    def: RepeatDefinition,
    policy: RetryStrategy,
  ): Promise<Coordination> {
    const tickName = `${coordName}$${scheduled}`;
    const existing = await this.store.findLog(scope.run.id, tickName);
    if (existing?.state === 'completed')
      return this.advance(scope, coordName, state, index, scheduled, null);
    // A failed tick at the frontier stalled the run (`onError: 'fail'`); `client.retry` turns it
    // back to `pending`, so it runs again before any later tick.
    if (existing?.state === 'failed') throw new ExecutionFailedError(tickName, existing.attempts);
    const attempts = (existing?.attempts ?? 0) + 1;
    const tickMeta: Record<string, unknown> = {
      ...(existing?.metadata ?? {}),
      scheduled_for: iso(scheduled),
    };
    const startedAt = new Date();
    try {
      const tick = () => method.apply(self, [...args, new Date(scheduled)]);
      const value = await stepStorage.run(tickName, () =>
        this.interceptors.step(scope, tickName, attempts, tick, 'repeat'),
      );
      // A refused durable call fails the tick even when the body caught it.
      const caught = scope.takeRefusal(tickName);
      if (caught) throw caught;
      return await this.advance(scope, coordName, state, index, scheduled, {
        name: tickName,
        state: 'completed',
        attempts,
        metadata: tickMeta,
        result: serializeValue(value ?? null),
      });
    } catch (err) {
      if (err instanceof HaltExecution || err instanceof LockLostError || scope.crashed) throw err;
      const counts: RetryCounts = { ...((tickMeta.retry_counts as RetryCounts | undefined) ?? {}) };
      // NOTE: a retried run gives the tick a fresh budget (`attempt_offset`, set by the retry).
      const offset = typeof tickMeta.attempt_offset === 'number' ? tickMeta.attempt_offset : 0;
      // A timer, signal wait, spawn or merge in the tick body is a bug in it, as is an interceptor
      // breaking the next() contract: never retried.
      const bug = err instanceof DurableCallInStepError || err instanceof InterceptorNextError;
      const refused = scope.takeRefusal(tickName) ?? (bug ? err : undefined);
      const decision = refused ? null : policy.decide(err, attempts - offset, counts);
      if (Object.keys(counts).length > 0) tickMeta.retry_counts = counts;
      const error = toErrorRecord(refused ?? err, scope.context);
      if (decision || def.onError === 'fail') {
        // Retried later, or stalls the run: the coordination log stays on the previous tick.
        if (!decision) tickMeta.stalls_run = true;
        const id = await this.store.failStepAttempt(
          scope.run.id,
          scope.owner,
          tickName,
          attempts,
          decision ? 'pending' : 'failed',
          tickMeta,
          error,
          startedAt,
        );
        if (id === null) throw new LockLostError(scope.run.id);
        if (decision) scope.halt(scope.now() + decision.delayMs);
        throw new ExecutionFailedError(tickName, attempts, refused ?? err);
      }
      return this.advance(scope, coordName, state, index, scheduled, {
        name: tickName,
        state: 'failed',
        attempts,
        metadata: tickMeta,
        errorClass: error.errorClass,
        errorMessage: error.message,
        errorLog: error,
      });
    }
  }

  /** Records tick `index` as done (with its row, if any) on the coordination log. */
  private async advance(
    scope: RunScope,
    coordName: string,
    state: Coordination,
    index: number,
    scheduled: number,
    tick: TickWrite | null,
  ): Promise<Coordination> {
    const next: Coordination = { ...state, last_index: index, last_execution_at: iso(scheduled) };
    if (!tick) {
      const saved = await this.save(scope, coordName, next);
      scope.noteProgress();
      return saved;
    }
    if (tick.state === 'completed') crashPoint(scope, tick.name, 'before');
    const ok = await this.repeats.recordTick(
      scope.run.id,
      scope.owner,
      coordName,
      next,
      tick,
      scope,
    );
    if (!ok) throw new LockLostError(scope.run.id);
    if (tick.state === 'completed') crashPoint(scope, tick.name, 'after');
    scope.noteProgress();
    return this.remember(scope, coordName, next);
  }

  /**
   * Restarts the grid at the last tick when the interval (or time zone) changed since it was
   * recorded, so the next tick is one new interval after the last one (see `alignPosition`). A tick
   * of the old grid that was still being retried (or was reset by `client.retry`) runs first, at
   * its own scheduled time, and the new grid starts from it.
   */
  private async align(
    scope: RunScope,
    coordName: string,
    state: Coordination,
    def: RepeatDefinition,
  ): Promise<Coordination> {
    const anchorMs = Date.parse(state.anchor);
    const lastMs = state.last_execution_at === null ? null : Date.parse(state.last_execution_at);
    const aligned = alignPosition(def.every, def.timeZone, {
      anchorMs,
      lastIndex: state.last_index,
      lastMs,
    });
    if (aligned.anchorMs === anchorMs && aligned.lastIndex === state.last_index) return state;
    const unfinished =
      lastMs === null ? null : await this.repeats.pendingTick(scope.run.id, coordName, lastMs);
    if (unfinished !== null)
      return this.save(scope, coordName, { ...state, anchor: iso(unfinished), last_index: null });
    return this.save(scope, coordName, {
      ...state,
      anchor: iso(aligned.anchorMs),
      last_index: aligned.lastIndex,
    });
  }

  /** Stores the coordination log's metadata alone. */
  private async save(
    scope: RunScope,
    coordName: string,
    next: Coordination,
  ): Promise<Coordination> {
    const attempts = (scope.logs.get(coordName)?.attempts ?? 1) + 1;
    await this.store.savePendingLog(scope.run.id, scope.owner, coordName, attempts, next);
    return this.remember(scope, coordName, next);
  }

  private remember(scope: RunScope, coordName: string, next: Coordination): Coordination {
    const coord = scope.logs.get(coordName);
    if (coord)
      scope.logs.set(coordName, { ...coord, attempts: coord.attempts + 1, metadata: next });
    return next;
  }
}
