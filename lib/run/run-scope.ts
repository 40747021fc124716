import { AsyncLocalStorage } from 'node:async_hooks';
import type { WorkflowDefinition } from '../definitions/workflow.registry.js';
import type { LogRow, RunRow } from '../persistence/rows.js';
import type { WokenSleep } from '../persistence/workflow.store.js';
import type { ChronoForgeClock } from '../util/clock.js';
import { EngineFaultError } from '../errors/engine-fault.error.js';
import { engineStatementErrors } from '../database/engine-statement.js';
import { LockLostError } from '../errors/lock-lost.error.js';
import { occurrenceName } from '../util/names.util.js';
import type { NonDeterminismError } from '../errors/non-determinism.error.js';
import { branchStorage, stepStorage } from './call-storage.js';
import { CallHistory } from './call-history.js';
import { branchEntry } from './history-entries.js';
import { HaltExecution } from './halt-execution.js';
import { PassProgress } from './pass-progress.js';
import { DurableStateScope } from './state-scope.js';
import { ReplayTurns } from './replay-turns.js';

/** A pass stops starting new work this long (or a tenth of maxDuration) before its lock goes stale. */
export const LEASE_MARGIN_MS = 1_000;

/** Everything one pass of one run knows; reachable from user code through AsyncLocalStorage. */
export class RunScope extends DurableStateScope {
  /** Wake time of the continuation: `undefined` no halt, `null` halt without timer. */
  wakeAt: number | null | undefined = undefined;
  halted = false;
  /** The pass lost its lock (sticky: every later durable call throws `LockLostError`; no writes). */
  lost = false;
  /** A simulated crash struck: the pass must stop without writing anything more. */
  crashed = false;
  /** An engine statement failed in this pass (sticky like `lost`; a prompt later pass follows). */
  fault: EngineFaultError | undefined = undefined;
  /** The pass's calls diverged from the run's history: sticky like `fault`; the run stalls. */
  divergence: NonDeterminismError | undefined = undefined;
  /** The run's durable calls by position, and this pass's checked against them. */
  readonly history: CallHistory;
  /** Durable calls started and not settled (a call started meanwhile runs in parallel). */
  private running = 0;
  /** Branches reached in this pass (rebuilt every pass), and whether they were merged. */
  readonly openBranches = new Map<string, { logId: string; merged: boolean }>();
  /**
   * Sleeps the acquire completed, by step name, until the replay reaches them: the pass puts back
   * those it never reached (see `WorkflowStore.unwake`).
   */
  readonly unreachedWakes = new Map<string, WokenSleep>();
  /** Jobs to enqueue once the lock is released (never before: the continuation race). */
  readonly afterRelease: Array<() => Promise<void>> = [];
  private readonly counters = new Map<string, number>();
  /** Durable calls of this pass that have not settled yet (parallel calls, floating promises). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly progress: PassProgress;

  constructor(
    readonly run: RunRow,
    readonly logs: Map<string, LogRow>,
    readonly definition: WorkflowDefinition,
    readonly owner: string,
    readonly isDraining: () => boolean,
    readonly clock: ChronoForgeClock,
  ) {
    super(run.context);
    this.progress = new PassProgress(logs);
    const legacy = run.history == null && logs.size > 0;
    const label = `Run ${run.id} ("${run.key}") of workflow "${run.job_name}"`;
    this.history = new CallHistory(run.history ?? null, legacy, label, logs);
  }

  /** Records progress the step logs do not show (a repeat tick recorded). */
  noteProgress(): void {
    this.progress.note();
  }

  /** Whether this pass made progress (see {@link PassProgress.made}). */
  get progressed(): boolean {
    return this.progress.made;
  }

  /** The engine clock's current time in ms. */
  now(): number {
    return this.clock.now();
  }

  /** Step name of the next call of `base` in this pass (deterministic occurrence counter). */
  nextStepName(base: string): string {
    const n = (this.counters.get(base) ?? 0) + 1;
    this.counters.set(base, n);
    const name = occurrenceName(base, n);
    this.enter(name);
    return name;
  }

  /**
   * Gives durable call `name` its position in the run's history (see `CallHistory`; in a branch
   * body, as an entry of its branch). A call that diverges from the history makes the pass's
   * sticky `divergence`: it and every later call reject with it, and the run stalls.
   */
  enter(name: string): void {
    const branch = branchStorage.getStore();
    const entry = branch ? branchEntry(`branch$${branch.name}`, name) : name;
    // In a branch body, the branch's own call is in flight (counted once its body first awaited).
    const others = branch ? Math.max(0, this.running - 1) : this.running;
    const diverged = this.history.enter(entry, this.history.orderOf(others, this.halted));
    if (!diverged || this.divergence) return;
    this.divergence = diverged;
    this.stop();
  }

  /** Marks the pass as having lost its lock (sticky) and throws `LockLostError`. */
  lockLost(): never {
    this.markLost();
    throw new LockLostError(this.run.id);
  }

  /** The pass lost its lock: sticky, and it stops waiting for the workflow method. */
  markLost(): void {
    this.lost = true;
    this.stop();
  }

  /**
   * Turns the failure of an engine statement that escaped a durable call into the pass's sticky
   * fault, and returns the error the caller sees instead (the same one for every later call).
   */
  markFaulted(err: unknown): EngineFaultError {
    this.fault ??= new EngineFaultError(
      `A statement of ChronoForge failed during a pass of run ${this.run.id} (${(err as Error)?.message ?? String(err)}); the pass ends and a later pass continues the run.`,
      { cause: err },
    );
    this.stop();
    return this.fault;
  }

  /** A simulated crash struck: the pass writes nothing more and stops waiting for the method. */
  markCrashed(): void {
    this.crashed = true;
    this.stop();
  }

  /**
   * Resolves once the pass halted, lost its lock or crashed: from then on its outcome no longer
   * depends on what the workflow method does, so the executor stops waiting for it (a method that
   * catches every refusal in a loop may never return).
   */
  private stop: () => void = () => undefined;
  readonly stopped: Promise<void> = new Promise((resolve) => (this.stop = resolve));

  /** Set once the pass ended: a durable call made afterwards never starts and never settles. */
  private ended = false;

  /** Entry check of every durable call, replays included: a lost or crashed pass writes no more. */
  assertOwned(): void {
    if (this.fault) throw this.fault;
    if (this.divergence) throw this.divergence;
    if (this.lost || this.crashed) throw new LockLostError(this.run.id);
  }

  /**
   * Check before a durable call does new work (runs a body, writes a log, consumes a signal,
   * spawns): also refused once the pass halted, so nothing new starts while it winds down.
   */
  assertCanWork(): void {
    this.assertOwned();
    if (this.halted) throw new HaltExecution();
    // The lock goes stale after the run's maxDuration, measured by the database: a pass close to
    // that age hands the run over (halts, due now) rather than start a body another worker may
    // start too once it takes the stale lock over.
    if (this.leaseExpiring()) this.halt(this.now());
  }

  /** `performance.now()` when the pass asked for its lock (no later than the database's locked_at). */
  leaseStartedAt = performance.now();

  /** Whether this pass held its lock for nearly the run's `max_duration_ms` (real elapsed time). */
  leaseExpiring(): boolean {
    const max = Number(this.run.max_duration_ms);
    if (!Number.isFinite(max) || max <= 0) return false;
    const margin = Math.min(max * 0.1, LEASE_MARGIN_MS);
    return performance.now() - this.leaseStartedAt > max - margin;
  }

  /**
   * Runs one durable call of this pass and returns its promise (return it as is: it is marked
   * handled, so a floating call that the engine halts or refuses never becomes an unhandled
   * rejection; `await` still sees the error).
   *
   * - While the pass runs, the call is tracked until it settles, so the pass never ends
   *   (releases, records, enqueues) while a call it started still runs. A `LockLostError` out of
   *   the call makes the loss sticky before the caller sees it.
   * - Once the pass halted, lost its lock or crashed, the call starts only after a macrotask and
   *   is not tracked: it can only replay a completed call or be refused, and a method that catches
   *   every refusal in a loop keeps the process serving instead of spinning on microtasks.
   * - Once the pass ended, the call never starts and never settles: a late or looping caller
   *   stops there, and no body runs after its pass released the run.
   */
  track<T>(call: () => Promise<T>): Promise<T> {
    if (this.ended) return new Promise<T>(() => undefined);
    if (this.halted || this.lost || this.crashed || this.fault || this.divergence) {
      const late = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
        this.ended ? new Promise<T>(() => undefined) : this.start(call),
      );
      late.catch(() => undefined);
      return late;
    }
    const started = this.start(call);
    this.running++;
    const running = started.catch((err: unknown) => {
      // A failed engine statement is no outcome of the call: the pass ends, whatever user code
      // catches (the caller sees the pass's EngineFaultError).
      if (typeof err === 'object' && err !== null && engineStatementErrors.has(err))
        throw this.markFaulted(err);
      throw err;
    });
    // The first reaction to the call: it is no longer running when its caller continues.
    const settled = running.then(
      () => {
        this.running--;
        this.history.settled();
      },
      (err: unknown) => {
        this.running--;
        this.history.settled();
        if (err instanceof LockLostError) this.markLost();
      },
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return running;
  }

  private start<T>(call: () => Promise<T>): Promise<T> {
    try {
      this.assertOwned();
      return call();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Waits until a replayed (completed) call may return its stored result: replayed results are
   * handed out one per macrotask, lowest log id (first written) first among the calls waiting, so
   * continuations run in the order they ran when the results were first produced and later calls
   * take the same occurrence names (`Promise.all(items.map(async (x) => save(await fetch(x))))`:
   * each `save#n` stays with its item).
   */
  replayTurn(logId: string): Promise<void> {
    return this.replayTurns.wait(logId);
  }

  private readonly replayTurns = new ReplayTurns();

  /**
   * Resolves once every durable call started in this pass has settled, including calls chained
   * on settling ones (`a().then(() => b())`), then ends the pass: later calls never start.
   */
  async settle(): Promise<void> {
    for (;;) {
      while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
      // Calls chained on the last ones are made in microtasks: a macrotask later they are tracked.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.inFlight.size === 0) break;
    }
    this.ended = true;
  }

  /** Records a continuation (earliest wins; `null` = no timer) and unwinds the pass. */
  halt(wakeAtMs: number | null): never {
    if (wakeAtMs !== null) {
      this.wakeAt = this.wakeAt == null ? wakeAtMs : Math.min(this.wakeAt, wakeAtMs);
    } else if (this.wakeAt === undefined) {
      this.wakeAt = null;
    }
    this.halted = true;
    this.stop();
    throw new HaltExecution();
  }
}

/** The run of the current async call chain. */
export const runStorage = new AsyncLocalStorage<RunScope>();

/** The active run scope, unless the caller is inside a step body or outside any run. */
export function activeScope(): RunScope | undefined {
  if (stepStorage.getStore() !== undefined) return undefined;
  return runStorage.getStore();
}
