import { Injectable } from '@nestjs/common';
import type {
  InlineStepOptions,
  WaitForSignalOptions,
  WaitUntilOptions,
} from '../options/workflow-options.interface.js';
import { TimerRunner } from '../timers/timer.runner.js';
import { type Duration, toMs } from '../util/duration.util.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { assertUserName } from '../util/names.util.js';
import type { RunScope } from '../run/run-scope.js';
import { type DurableState, durableState } from './durable-state.js';
import { transactionStorage } from '../run/call-storage.js';
import type { EntityManager } from 'typeorm';
import { NotInTransactionError } from '../errors/not-in-transaction.error.js';
import { StepRunner } from '../steps/step.runner.js';
import type { MergeOptions, SpawnSpec } from '../branches/branch-specs.js';
import type { MergeResult } from '../branches/merge-result.js';
import { BranchRunner } from '../branches/branch.runner.js';
import type { SpawnSource } from '../branches/spawn-source.js';
import { compensationOf } from '../lifecycle/compensations.js';
import { rejectThrown } from '../util/reject-thrown.util.js';
import { FlowCalls } from '../limits/flow-calls.js';
import { waitForSignal } from './signals.js';
import { EventRecorder } from './event-recorder.js';
import { AttributeRecorder } from './attribute-recorder.js';
import type { SearchAttributesUpdate } from '../definitions/search-attributes.js';
import { CallRunner } from '../branches/call.runner.js';
import { ComposingContext } from './composing-context.js';
import { assertLimitText, MAX_LIMIT_KEY_LENGTH } from '../options/limit-options.js';

/**
 * The current run, seen from workflow code. Inject it anywhere; it reads the run of the current
 * call chain from AsyncLocalStorage and throws `NotInWorkflowError` outside a run.
 *
 * @publicApi
 */
@Injectable()
export class WorkflowContext extends ComposingContext {
  constructor(
    private readonly steps: StepRunner,
    private readonly timers: TimerRunner,
    private readonly branches: BranchRunner,
    private readonly flow: FlowCalls,
    private readonly events: EventRecorder,
    private readonly attributes: AttributeRecorder,
    calls: CallRunner,
  ) {
    super(calls);
  }

  /**
   * Runs `fn` as the durable step `step$<name>`: its result is stored on first completion and
   * returned on replay. Use it for anything non-deterministic (ids, clocks, randomness, I/O).
   * `compensate` receives the recorded result when the run rolls back.
   */
  step<T>(name: string, fn: () => T | Promise<T>, options: InlineStepOptions<T> = {}): Promise<T> {
    this.scope();
    return this.steps.run(name, fn, options, compensationOf(name, options));
  }

  /**
   * Durable timer: halts the run and resumes it after `duration` (step `wait$<name>`; the wake time
   * is stored when the call is first reached, so it holds across restarts and deploys).
   */
  sleep(duration: Duration, name?: string): Promise<void> {
    return rejectThrown(() => {
      const scope = this.durable('ctx.sleep()');
      const ms = toMs(duration, 'sleep duration');
      const step = this.stepName(scope, 'wait', name ?? 'sleep');
      return scope.track(() => this.timers.sleepUntil(scope, step, () => scope.now() + ms));
    });
  }

  /** Durable timer until an absolute time (step `wait$<name>`). */
  sleepUntil(date: Date, name?: string): Promise<void> {
    return rejectThrown(() => {
      const scope = this.durable('ctx.sleepUntil()');
      if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
        throw new InvalidOptionsError('sleepUntil needs a valid Date.');
      }
      const step = this.stepName(scope, 'wait', name ?? 'sleepUntil');
      return scope.track(() => this.timers.sleepUntil(scope, step, () => date.getTime()));
    });
  }

  /**
   * Polls `check` every `checkEvery` until it returns truthy (step `wait_until$<name>`); past
   * `timeout` (measured from the first poll) the run stalls with `WaitConditionTimeoutError`.
   */
  waitUntil(name: string, check: () => unknown, options: WaitUntilOptions = {}): Promise<true> {
    const scope = this.durable('ctx.waitUntil()');
    if (typeof check !== 'function')
      throw new InvalidOptionsError('waitUntil needs a check function.');
    const step = this.stepName(scope, 'wait_until', name);
    return scope.track(() => this.timers.waitUntil(scope, step, check, options));
  }

  /**
   * Continues only when `check` returns truthy; otherwise halts with no timer until
   * `WorkflowClient.resume(key)` (step `continue_if$<name>`).
   */
  continueIf(name: string, check: () => unknown): Promise<true> {
    const scope = this.durable('ctx.continueIf()');
    if (typeof check !== 'function')
      throw new InvalidOptionsError('continueIf needs a check function.');
    const step = this.stepName(scope, 'continue_if', name);
    return scope.track(() => this.timers.continueIf(scope, step, check));
  }

  /**
   * Halts until `WorkflowClient.signal(key, name, payload)` delivers a payload, and returns it
   * (step `signal$<name>`). Signals sent earlier are queued, each one is consumed exactly once.
   * A signal declared in `@Workflow({ signals })` returns an instance of its DTO (`payload`).
   */
  waitForSignal<T = unknown>(name: string, options: WaitForSignalOptions<T> = {}): Promise<T> {
    return waitForSignal<T>(this.timers, this.durable('ctx.waitForSignal()'), name, options);
  }

  /**
   * Publishes `value` (JSON-like; Dates round-trip) as the run's event `name` (step `event$<name>`),
   * readable once written through `client.getEvent(key, name)` and `client.watch(key)`; the
   * latest set of a name wins. Recorded at its position: replays do not set it again.
   */
  setEvent(name: string, value: unknown): Promise<void> {
    return this.events.set(this.durable('ctx.setEvent()'), name, value);
  }

  /**
   * Sets the run's search attributes (string, number or boolean; `null` removes a key), merged
   * into the ones it has: indexed, and filterable in `client.list({ attributes })`, the dashboard
   * and `chronoforge list --attr`. In the workflow body it is recorded at its position (step
   * `attributes$set`): replays do not set them again. In a step body it is written at once, with
   * the step's other effects (refused in a transactional step). Refused values throw
   * `SearchAttributeError`, storing nothing.
   */
  setAttributes(update: SearchAttributesUpdate): Promise<void> {
    return rejectThrown(() => this.attributes.set(this.scope(), update));
  }

  /**
   * Starts one child workflow from inside a `@Branch()` method; its key is
   * `<parentKey>$<parentWorkflow>$<branch>$<name>`. Idempotent: replays never start it twice.
   */
  spawn<I = unknown>(name: string, spec: SpawnSpec<I>): Promise<void> {
    const scope = this.durable('ctx.spawn()');
    return scope.track(() => this.branches.spawn(scope, name, spec));
  }

  /**
   * Starts one child per item of `source` (array, (async) iterable, TypeORM repository or query
   * builder walked by primary key), `of` per batch with a resumable cursor. Child keys are
   * `<parentKey>$<parentWorkflow>$<branch>$<name>_<primary key or index>`.
   */
  spawnEach<T>(
    name: string,
    source: SpawnSource<T>,
    map: (item: T, index: number) => SpawnSpec,
    options: { of?: number } = {},
  ): Promise<void> {
    const scope = this.durable('ctx.spawnEach()');
    return scope.track(() => this.branches.spawnEach(scope, name, source, map, options.of ?? 1000));
  }

  /**
   * Waits until the children of the named branches are done (step `merge$<sorted names>`; see
   * `MergeOptions.mode`) and returns their outcomes: inline when they already are, otherwise the
   * last child's end wakes the run (a BranchMergeJob polls as the safety net).
   */
  merge<R = unknown>(
    ...args: [...names: string[], options: MergeOptions] | string[]
  ): Promise<MergeResult<R>> {
    const scope = this.durable('ctx.merge()');
    const last = args[args.length - 1];
    const options = typeof last === 'object' && last !== null ? (last as MergeOptions) : {};
    const names = (args as unknown[]).filter((a): a is string => typeof a === 'string');
    if (names.length !== args.length - (typeof last === 'object' && last !== null ? 1 : 0)) {
      throw new InvalidOptionsError(
        'merge() takes branch names followed by an optional options object.',
      );
    }
    return scope.track(() => this.branches.merge<R>(scope, names, options));
  }

  /**
   * Runs `fn` (durable calls allowed) holding the lock `key`, shared by every run of the
   * deployment: mutual exclusion across runs. A run that finds the lock held parks idle
   * (`waiting on limit $lock`, no retry attempt spent) and is woken when it frees; with
   * `ordered`, waiters get it in the order their runs started. Freed when `fn` ends, when the pass
   * ends (a halt inside `fn`: the next pass takes it again before replaying `fn`), or, if the
   * holder's worker died or its lease ran out, by the heartbeat rule. Replays of a completed call
   * run `fn` again without the lock (its steps return their recorded results).
   */
  withLock<T>(
    key: string,
    fn: () => T | Promise<T>,
    options: { ordered?: boolean } = {},
  ): Promise<T> {
    return rejectThrown(() => {
      const scope = this.durable('ctx.withLock()');
      assertLimitText(key, 'withLock() key', MAX_LIMIT_KEY_LENGTH);
      if (typeof fn !== 'function') throw new InvalidOptionsError('withLock needs a function.');
      const ordered = options?.ordered ?? false;
      if (typeof ordered !== 'boolean')
        throw new InvalidOptionsError('withLock() option ordered must be a boolean.');
      const step = this.flow.stepName(scope, 'lock', key);
      return scope.track(() => this.flow.withLock(scope, step, key, ordered, fn));
    });
  }

  /**
   * Runs `fn` (durable calls allowed) at most once per `key` per `period` across every run:
   * returns its result, or `undefined` when a run already ran `once(key)` within the last
   * `period`. Durable: the run that claimed the period runs `fn` until it completes (again after a
   * crash or a retry), and a skipped call stays skipped on replay.
   */
  once<T>(key: string, period: Duration, fn: () => T | Promise<T>): Promise<T | undefined> {
    return rejectThrown(() => {
      const scope = this.durable('ctx.once()');
      assertLimitText(key, 'once() key', MAX_LIMIT_KEY_LENGTH);
      const periodMs = toMs(period, 'once() period');
      if (periodMs < 1) throw new InvalidOptionsError('once() period must be at least 1 ms.');
      if (typeof fn !== 'function') throw new InvalidOptionsError('once needs a function.');
      const step = this.flow.stepName(scope, 'once', key);
      return scope.track(() => this.flow.once(scope, step, key, periodMs, fn));
    });
  }

  private stepName(scope: RunScope, kind: string, name: string): string {
    assertUserName(name, `${kind} step`);
    return scope.nextStepName(`${kind}$${name}`);
  }

  /**
   * The EntityManager of the transactional step that is running: its writes commit or roll back
   * together with the step's checkpoint. Throws `NotInTransactionError` elsewhere.
   */
  get manager(): EntityManager {
    const manager = transactionStorage.getStore();
    if (!manager) {
      throw new NotInTransactionError(
        'ctx.manager is only available inside @DurableStep({ transactional: true }) or ctx.transaction().',
      );
    }
    return manager;
  }

  /**
   * Runs `fn` as the transactional durable step `step$<name>`: `fn` receives an EntityManager whose
   * transaction also writes the step's checkpoint, so the writes happen exactly once.
   */
  transaction<T>(
    name: string,
    fn: (manager: EntityManager) => T | Promise<T>,
    options: Omit<InlineStepOptions<T>, 'transactional'> = {},
  ): Promise<T> {
    this.scope();
    const step = { ...options, transactional: true };
    return this.steps.run(name, () => fn(this.manager), step, compensationOf(name, options));
  }

  /** Durable key/value state of the run. */
  get state(): DurableState {
    return durableState(this.scope());
  }
}
