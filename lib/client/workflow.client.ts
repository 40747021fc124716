import { Injectable, type Type } from '@nestjs/common';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { InvalidTransitionError } from '../errors/invalid-transition.error.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { EntityManager } from 'typeorm';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { TimerStore } from '../timers/timer.store.js';
import { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import { assertSelector } from '../definitions/client-arguments.js';
import { afterCommit } from './after-commit.js';
import { transactionRunner } from './transaction-runner.js';
import { notifyOnCommit, SignalSender } from './signal-sender.js';
import { RunEventReader, type RunUpdate, type WatchOptions } from './run-event-reader.js';
import type { Observable } from 'rxjs';
import type { Duration } from '../util/duration.util.js';
import { checkNewRun } from '../definitions/input-validation.js';
import { InPlaceStarts } from '../executor/in-place-starts.js';
import { WorkflowHandle } from './workflow-handle.js';
import type {
  ListRunsFilter,
  WorkflowRunDetail,
  WorkflowRunSummary,
} from './workflow-run.interface.js';
import { RunQueries } from './run-queries.js';
import { DeployQueries } from './deploy-queries.js';
import { checkForkArguments } from './fork-options.js';
import type {
  ForkOptions,
  RunHistoryExport,
  WorkflowVersionInfo,
} from './run-history.interface.js';
import { WorkflowLimits } from '../limits/workflow-limits.js';
import { allowedFrom } from './transitions.js';
import { ScheduleClient } from './schedule.client.js';
import { SagaStore } from '../sagas/saga.store.js';
import { toTimeoutMs } from '../definitions/lifecycle-options.js';
import { RunCanceller } from '../sagas/run-canceller.js';
import type { CancelOptions } from '../sagas/cancel-options.interface.js';
import { StartFlow } from './start-flow.js';
import { startAttributes } from './start-attributes.js';
import { startTarget } from './start-target.js';
import type {
  RunSelector,
  StartOptions,
  TypedStartOptions,
  WorkflowInputOf,
  WorkflowMethodOf,
  WorkflowResultOf,
} from './start-options.js';

export { MAX_INPUT_BYTES } from '../definitions/input-validation.js';
export type { RunUpdate, WatchOptions } from './run-event-reader.js';

export type {
  RunSelector,
  StartOptions,
  TypedStartOptions,
  WorkflowInputOf,
  WorkflowMethodOf,
  WorkflowResultOf,
} from './start-options.js';

/**
 * Starts runs and reads or acts on them. Available in every process, including `worker: false`.
 *
 * @publicApi
 */
@Injectable()
export class WorkflowClient {
  private readonly runs: RunQueries;
  private readonly deploys: DeployQueries;
  private readonly flow: StartFlow;
  private readonly signals: SignalSender;
  private readonly events: RunEventReader;

  constructor(
    private readonly store: WorkflowStore,
    private readonly queue: WorkflowQueue,
    private readonly registry: WorkflowRegistry,
    private readonly timers: TimerStore,
    private readonly metrics: ChronoForgeMetrics,
    /** Named limits at runtime: change, reset, inspect (who holds, who waits). */
    readonly limits: WorkflowLimits,
    /** Durable cron schedules that start runs: create, update, pause, resume, trigger, backfill, … */
    readonly schedules: ScheduleClient,
    private readonly sagas: SagaStore,
    private readonly canceller: RunCanceller,
    private readonly inPlace: InPlaceStarts,
  ) {
    this.runs = new RunQueries(store);
    this.deploys = new DeployQueries(store, store.deadAfterMs);
    this.flow = new StartFlow(store, canceller);
    this.signals = new SignalSender(store, queue, registry, timers, this.runs);
    this.events = new RunEventReader(store, this.runs);
  }

  /** Starts (or finds) the run of workflow `name` with `options.key`. */
  start<R = unknown>(name: string, options: StartOptions): Promise<WorkflowHandle<R>>;
  /** Typed start: the input is checked against the method's parameter type. */
  start<T extends object, M extends WorkflowMethodOf<T>>(
    target: Type<T>,
    method: M,
    options: TypedStartOptions<WorkflowInputOf<T[M]>>,
  ): Promise<WorkflowHandle<WorkflowResultOf<T[M]>>>;
  async start(
    nameOrTarget: string | Type<object>,
    methodOrOptions: string | StartOptions,
    maybeOptions?: StartOptions,
  ): Promise<WorkflowHandle<unknown>> {
    const def = startTarget(this.registry, nameOrTarget, methodOrOptions);
    const options = (typeof nameOrTarget === 'string' ? methodOrOptions : maybeOptions) as
      StartOptions | undefined;
    if (!options || typeof options !== 'object')
      throw new InvalidOptionsError('start() needs options { key, input }.');
    const input = options.input ?? null;
    await checkNewRun(def, options.key, input);
    const timeoutMs = toTimeoutMs(options.timeout, 'start() timeout') ?? def.timeoutMs ?? null;
    const attributes = startAttributes(options.attributes);
    const runner = transactionRunner(options.manager, 'start');
    const { id, created, nextRunAt, key, priority } = await this.flow.start(
      def,
      options,
      input,
      { timeoutMs, attributes },
      runner,
    );
    if (created && runner) {
      // Counted only if the caller's transaction commits: a rolled-back start created no run.
      afterCommit(runner, () => this.metrics.runsStarted.inc({ workflow: def.name }));
      await notifyOnCommit(this.store, runner, id);
    } else if (created) {
      this.metrics.runsStarted.inc({ workflow: def.name });
      if (!this.inPlace.tryRun(def, id, priority, nextRunAt))
        await this.queue.enqueueRun(id, nextRunAt, undefined, priority);
    } else if (nextRunAt && !runner) {
      // Found with its wake-up: a start whose multi-row insert failed ambiguously may have
      // created it (see WorkflowStore.insertRun); a spare job is harmless, a missing one is not.
      await this.queue.enqueueRun(id, nextRunAt, undefined, priority);
    }
    return new WorkflowHandle(this, id, def.name, key);
  }

  /** A handle to an existing run. */
  async handle<R = unknown>(key: string, selector: RunSelector = {}): Promise<WorkflowHandle<R>> {
    assertSelector(selector, 'handle');
    const row = await this.runs.find(key, selector.workflow);
    return new WorkflowHandle<R>(this, row.id, row.job_name, key);
  }

  /** The run with its steps and errors. */
  async get(key: string, selector: RunSelector = {}): Promise<WorkflowRunDetail> {
    assertSelector(selector, 'get');
    const row = await this.runs.find(key, selector.workflow);
    return this.runs.detail(row.id);
  }

  /**
   * In-flight runs per workflow and `@Workflow({ version })`, with the live workers serving each
   * version: old code can go once its version has no run in flight (`chronoforge versions`).
   */
  versions(): Promise<WorkflowVersionInfo[]> {
    return this.deploys.versions();
  }

  /** The run's history as stable JSON (`chronoforge export <key>`), for the testing kit's `replay`. */
  async export(key: string, selector: RunSelector = {}): Promise<RunHistoryExport> {
    assertSelector(selector, 'export');
    return this.deploys.export((await this.runs.find(key, selector.workflow)).id);
  }

  /**
   * Starts a new run of the same workflow and version that reuses the recorded results of the
   * run's calls before `fromStep` and executes from there; it records `forkedFrom`. Bad arguments
   * store nothing: `InvalidOptionsError` (key, options, `fromStep`, `newKey`, input size),
   * `SerializationError` / `InputValidationError` (an `input` `client.start` would refuse).
   */
  async fork<R = unknown>(key: string, options: ForkOptions): Promise<WorkflowHandle<R>> {
    const checked = checkForkArguments(key, options);
    const row = await this.runs.find(key);
    const def = this.registry.get(row.job_name); // undefined: checks storable input, size only
    const forked = await this.deploys.fork(row.id, key, checked, def);
    await this.queue.enqueueRun(forked.id);
    return new WorkflowHandle<R>(this, forked.id, row.job_name, forked.key);
  }

  /** Runs matching `filter`, newest first. */
  async list(filter: ListRunsFilter = {}): Promise<WorkflowRunSummary[]> {
    return this.runs.list(filter);
  }

  /**
   * Moves a `failed` or `stalled` run back to `idle` with fresh retry budgets and wakes it. A run
   * that rolled back (or began to) is not run forward again: `compensate` it instead.
   */
  async retry(key: string, selector: RunSelector = {}): Promise<void> {
    assertSelector(selector, 'retry');
    const row = await this.runs.find(key, selector.workflow);
    const nextRunAt = await this.runs.retry(row.id);
    if (!nextRunAt) throw await this.transitionError(row.id, key, 'retry');
    await this.queue.enqueueRun(row.id, nextRunAt);
  }

  /**
   * Rolls a `failed` or `stalled` run back by hand: the compensations of its completed steps run,
   * last completed first (see `@DurableStep({ compensate })`). For a run whose rollback left
   * failed compensations, runs those again with fresh retry budgets.
   */
  async compensate(key: string, selector: RunSelector = {}): Promise<void> {
    assertSelector(selector, 'compensate');
    const row = await this.runs.find(key, selector.workflow);
    const nextRunAt = await this.sagas.compensate(row.id, allowedFrom('compensate'));
    if (!nextRunAt) throw await this.transitionError(row.id, key, 'compensate');
    await this.queue.enqueueRun(row.id, nextRunAt);
  }

  /** Wakes an `idle` (or `running`) run so it re-evaluates what it waits on, e.g. a `continueIf`. */
  async resume(key: string, selector: RunSelector = {}): Promise<void> {
    assertSelector(selector, 'resume');
    const row = await this.runs.find(key, selector.workflow);
    const woken = await this.timers.requestWake(row.id);
    if (!woken)
      throw new InvalidTransitionError(key, (await this.runs.outcome(row.id)).state, 'resume', [
        'idle',
        'running',
      ]);
    if (woken.state === 'idle') await this.queue.enqueueRun(row.id, woken.next_run_at);
  }

  /**
   * Sends signal `name` with `payload` (JSON-like; Dates round-trip) to a run. The payload is stored
   * in PostgreSQL before the wake-up is enqueued; a signal sent before the run reaches
   * `waitForSignal` waits for it. A signal declared in `@Workflow({ signals: { name: Dto } })` is
   * validated against its DTO first: `InputValidationError`, nothing stored.
   */
  signal(
    key: string,
    name: string,
    payload?: unknown,
    selector: RunSelector & { manager?: EntityManager } = {},
  ): Promise<void> {
    return this.signals.send(key, name, payload, selector);
  }

  /**
   * Waits up to `timeout` (default 60 s) until the run has set event `name` (`ctx.setEvent`) and
   * returns its latest value; throws `EventTimeoutError` when it has not by then, and at once
   * `EventNotSetError` (a subclass) when the run ended (`completed`, `failed`, `stalled`,
   * `cancelled`, `compensated`) without setting it.
   */
  getEvent<T = unknown>(
    key: string,
    name: string,
    options: { timeout?: Duration } & RunSelector = {},
  ): Promise<T> {
    return this.events.get<T>(key, name, options);
  }

  /**
   * Streams the run's events, completed durable calls and state changes as an Observable of Nest
   * `MessageEvent`s (return it from an `@Sse()` handler): those so far, then each new one; completes once the run
   * ends (`completed`, `failed`, `stalled`, `cancelled`, `compensated`). Reads every `every`.
   */
  watch(key: string, options: WatchOptions = {}): Observable<RunUpdate> {
    return this.events.watch(key, options);
  }

  /**
   * Cancels a run that is `idle`, `running` or `stalled` (with `children`, its descendants too, in
   * one statement); `reason` is stored. A pass in flight stops at its next durable call and its
   * step bodies see `ctx.abortSignal` fire. With `compensate`, the runs roll back instead. A run
   * whose workflow has an `@OnCancel()` cleanup (registered in this process) runs it, after its
   * rollback if it rolls back.
   */
  async cancel(key: string, options: CancelOptions = {}): Promise<void> {
    assertSelector(options, 'cancel');
    const row = await this.runs.find(key, options.workflow);
    if (!(await this.canceller.cancel(row.id, options, allowedFrom('cancel'))))
      throw await this.transitionError(row.id, key, 'cancel');
  }

  /** State, stored result and last error of run `id` (what `WorkflowHandle` polls). */
  fetchOutcome(id: string): ReturnType<RunQueries['outcome']> {
    return this.runs.outcome(id);
  }

  private async transitionError(
    id: string,
    key: string,
    action: 'retry' | 'cancel' | 'compensate',
  ): Promise<Error> {
    const { state, rolledBack } = await this.runs.outcome(id);
    const hint =
      action === 'retry' && rolledBack
        ? 'It rolled back (or began to): use compensate() to run its failed compensations again.'
        : undefined;
    return new InvalidTransitionError(key, state, action, allowedFrom(action), hint);
  }
}
