import type { Type } from '@nestjs/common';
import type { RetryOption } from '../retry/retry-policy.js';
import type { Duration } from '../util/duration.util.js';

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
 * Options of `ctx.step()`: those of `@DurableStep()`, with the compensation given as a function.
 *
 * @publicApi
 */
export type InlineStepOptions<T> = Omit<StepOptions, 'name' | 'compensate'> & {
  /** Undoes the step when the run rolls back; receives the step's recorded result. */
  compensate?: (result: T) => unknown;
};
