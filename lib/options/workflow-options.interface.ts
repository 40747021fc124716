import type { Type } from '@nestjs/common';
import type { ErrorClass, RetryOption } from '../retry/retry-policy.js';
import type { Duration } from '../util/duration.util.js';
import type {
  StepLimitOption,
  WorkflowConcurrency,
  WorkflowDebounce,
  WorkflowRate,
  WorkflowSingleton,
} from './limit-options.interface.js';

/**
 * Options of `@Workflow()`.
 *
 * @publicApi
 */
export interface WorkflowOptions {
  /** Stable name persisted with every run. @default '<Class>.<method>' */
  name?: string;
  /** Lock lifetime of one pass; a lock older than this is taken over. @default module maxDuration */
  maxDuration?: Duration;
  /** Policy for errors that escape the workflow method; also the default for its steps. */
  retry?: RetryOption;
  /** class-validator DTO the input is validated against at `start`; the method receives an instance. */
  input?: Type<object>;
  /**
   * class-validator DTOs of the workflow's signal payloads, by signal name, e.g.
   * `{ delivered: DeliveredDto }`: `client.signal` validates a payload against its signal's DTO
   * before storing it (`InputValidationError`, nothing stored) and `ctx.waitForSignal` returns an
   * instance of it. Signals not listed take any JSON-like payload.
   */
  signals?: Record<string, Type<object>>;
  /**
   * Per-key semaphore on the runs' passes, e.g. `{ limit: 5, key: (input) => input.tenantId }`: a
   * pass over the limit parks the run idle until a slot frees (it is woken then, FIFO per key).
   * Runtime name: `workflow:<name>:concurrency` (see `client.limits`).
   */
  concurrency?: WorkflowConcurrency;
  /**
   * Per-key rate of run starts, e.g. `{ limit: 10, per: '1m', key: (input) => input.tenantId }`:
   * a run over the rate waits idle until its turn (delayed, never dropped). Runtime name:
   * `workflow:<name>:rate`.
   */
  rate?: WorkflowRate;
  /**
   * At most one active run per key, e.g. `{ key: (input) => input.customerId, mode: 'skip' }`; see
   * {@link SingletonMode} for what `client.start` does when one is active. Runtime name of the
   * `'queue'` mode's slot: `workflow:<name>:singleton`.
   */
  singleton?: WorkflowSingleton;
  /**
   * Debounced starts, e.g. `{ period: '30s', key: (input) => input.cartId }`: the last start of a
   * burst runs, `period` after it; the earlier ones end `cancelled` (not with `singleton`).
   */
  debounce?: WorkflowDebounce;
  /**
   * Lower runs first: the runs' queue jobs (both queue backends) and their places among the
   * waiters of every limit. 0 (the default, first) to 2 097 152; `start(…, { priority })`
   * overrides it per run.
   */
  priority?: number;
  /**
   * Outcomes that roll the run back: the compensations of its completed steps run in reverse
   * order of completion. `'failed'`: an error escaped the workflow method and its retry policy;
   * `'stalled'`: a step exhausted its retries; `'cancelled'`: `client.cancel()` (unless it passes
   * `compensate`) or a deadline with `onTimeout: 'cancel'`. @default ['failed', 'stalled']
   */
  compensateOn?: CompensateOn[];
  /**
   * Deadline of each run, counted from its start (`start(…, { timeout })` overrides it) and stored
   * with the run (`deadline_at`); children spawned by the run never get a later deadline. A run past
   * its deadline is ended within seconds, by whichever worker is alive: see `onTimeout`.
   */
  timeout?: Duration;
  /**
   * What a deadline does: `'cancel'` (state `cancelled`, reason "deadline exceeded") or `'fail'`
   * (state `failed`, `DeadlineExceededError`); either rolls back when `compensateOn` lists
   * `'cancelled'` or `'failed'` respectively. @default 'cancel'
   */
  onTimeout?: 'cancel' | 'fail';
  /**
   * The version of the workflow's code, e.g. `'2026-12-03'`. A run keeps the version it started
   * with (`ctx.version`); a worker that does not have it leaves the run to one that does (a run
   * whose version no live worker has served for `worker.deadAfter` stalls with
   * `WorkflowVersionMissingError`). `chronoforge versions` lists in-flight runs per version.
   */
  version?: string;
}

/** An outcome that can roll a run back (see `WorkflowOptions.compensateOn`). @publicApi */
export type CompensateOn = 'failed' | 'stalled' | 'cancelled';

/**
 * A compensation given to `@DurableStep({ compensate })`: the name of a method on the same
 * provider, or a function called with the provider as `this`. It receives the step's arguments
 * followed by the step's recorded result.
 *
 * @publicApi
 */
export type StepCompensation = string | ((...argsThenResult: never[]) => unknown);

/**
 * Options of `@DurableStep()` and `ctx.step()`.
 *
 * @publicApi
 */
export interface StepOptions {
  /** Step name (without the `step$` prefix). @default the method name */
  name?: string;
  /** Retry policy of the step. @default workflow retry → module defaultStepRetry → 3 attempts, 1 s, 30 s */
  retry?: RetryOption;
  /**
   * Run the step in a transaction on the engine's DataSource and write its checkpoint in the same
   * transaction, so its database writes (through `ctx.manager`) and its completion commit or roll
   * back together: exactly-once for database work. @default false
   */
  transactional?: boolean;
  /** Isolation level of a transactional step. @default 'READ COMMITTED' */
  isolation?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
  /**
   * Named limit(s) each attempt of the step must be admitted by before its body runs, e.g.
   * `'stripe'` or `{ name: 'pdf', key: tenantId }`. A step over a limit parks the run idle (no
   * retry attempt is spent) until it is admitted; its slot is freed when the attempt is recorded.
   */
  limit?: StepLimitOption;
  /**
   * Undoes the step when the run rolls back (see `WorkflowOptions.compensateOn`). It runs as a
   * durable step of its own (`$compensate$<step name>`) with this step's `transactional` and
   * `isolation`, retried by `compensateRetry`.
   */
  compensate?: StepCompensation;
  /** Retry policy of the compensation. @default the step's own retry policy */
  compensateRetry?: RetryOption;
  /**
   * Longest time one attempt may run: past it the attempt is abandoned (its `ctx.abortSignal`
   * fires with `StepTimeoutError`, its result is never recorded) and counts as a failed attempt
   * under the step's retry policy. Also bounds each attempt of the step's compensation.
   */
  timeout?: Duration;
}

/**
 * Options of `@Repeat()`.
 *
 * @publicApi
 */
export interface RepeatOptions {
  /** Step name segment. @default the method name */
  name?: string;
  /**
   * Stop condition, checked before every tick: the name of a method on the same provider, or a
   * function; both receive the arguments the repeat was called with.
   */
  till?: string | ((...args: never[]) => unknown);
  /** First scheduled tick. @default first reach of the repeat + one interval */
  startAt?: Date;
  /** A tick later than this past its schedule is skipped (missed ticks are fast-forwarded). @default '1h' */
  timeout?: Duration;
  /** Retry policy of one tick. @default the step default (3 attempts) */
  retry?: RetryOption;
  /** After a tick exhausts its retries: `'continue'` with the next tick, or `'fail'` (stall the run). @default 'continue' */
  onError?: 'continue' | 'fail';
  /** Time zone of calendar intervals (whole days, months, …). @default 'UTC' */
  timeZone?: string;
}

/** Metadata stored by `@Repeat()`. */
export interface RepeatMetadata extends RepeatOptions {
  every: RepeatEvery;
}

/**
 * Options of `@Branch()`.
 *
 * @publicApi
 */
export interface BranchOptions {
  /** Branch name. @default the method name */
  name?: string;
  /** Merge right after the branch seals (the workflow waits for every child there). @default false */
  automerge?: boolean;
}

/**
 * A calendar interval: ticks step on the wall clock of `timeZone`, so a daily 09:00 stays at 09:00
 * across DST changes and a monthly tick on the 31st clamps to the last day of shorter months.
 *
 * @publicApi
 */
export interface CalendarInterval {
  days?: number;
  weeks?: number;
  months?: number;
  years?: number;
}

/** Interval of `@Repeat`: a duration, or a calendar interval. @publicApi */
export type RepeatEvery = Duration | CalendarInterval;

/** Options of `ctx.waitUntil()`. @publicApi */
export interface WaitUntilOptions {
  /** Give up (stalling the run with `WaitConditionTimeoutError`) this long after the wait began. @default '1h' */
  timeout?: Duration;
  /** Delay between two evaluations of the condition. @default '15m' */
  checkEvery?: Duration;
  /** Errors thrown by the condition that are retried (with their own budget); others fail the step. */
  retryOn?: readonly ErrorClass[];
}

/** Options of `ctx.waitForSignal()`. @publicApi */
export interface WaitForSignalOptions<T = unknown> {
  /** Give up after this long; omitted waits forever. */
  timeout?: Duration;
  /**
   * The payload's DTO, which types the result: it must be the one `@Workflow({ signals })`
   * declares for this signal (there `client.signal` validates payloads before storing them).
   */
  payload?: Type<T>;
}

/**
 * Options of `ctx.step()`: those of `@DurableStep()`, with the compensation given as a function.
 *
 * @publicApi
 */
export type InlineStepOptions<T> = Omit<StepOptions, 'name' | 'compensate'> & {
  /** Undoes the step when the run rolls back; receives the step's recorded result. */
  compensate?: (result: T) => unknown;
};
