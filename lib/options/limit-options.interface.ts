import type { Duration } from '../util/duration.util.js';

/**
 * One window of a rate limit: at most `limit` grants in any `per` (a sliding window, e.g. no 4
 * grants within any 1 s for `{ limit: 3, per: '1s' }`).
 *
 * @publicApi
 */
export interface RateWindow {
  /** Grants allowed per window (1 to 10 000). */
  limit: number;
  /** Length of the window, e.g. `'1s'`, `'1m'` (1 ms to 366 days). */
  per: Duration;
}

/**
 * A named limit, applied per key (a step or workflow names the key; the default key is `''`). Give
 * `concurrency`, `rate`, or both (then a grant needs both).
 *
 * @publicApi
 */
export interface LimitDefinition {
  /** At most this many holders at once per key (a semaphore): 1 to 1 000 000. */
  concurrency?: number;
  /** One window or several (`[{ limit: 3, per: '1s' }, { limit: 100, per: '1m' }]`), all enforced. */
  rate?: RateWindow | readonly RateWindow[];
}

/**
 * A limit a step takes: the limit's name and, for a per-key limit, the key. In
 * `@DurableStep({ limit })` the key may be a function of the method's arguments; in
 * `ctx.step(…, { limit })` a function takes no argument.
 *
 * @publicApi
 */
export interface StepLimit {
  /** A name from `forRoot({ limits })` or `client.limits.set()`. */
  name: string;
  /** The key the limit applies to (1 to 500 characters). @default '' (one key for every caller) */
  key?: string | ((...args: never[]) => string | number);
}

/**
 * What `@DurableStep({ limit })` / `ctx.step(…, { limit })` accept: a limit name, a
 * {@link StepLimit}, or several (a step is admitted by all of them at once, or waits).
 *
 * @publicApi
 */
export type StepLimitOption = string | StepLimit | ReadonlyArray<string | StepLimit>;

/**
 * A run-level semaphore (`@Workflow({ concurrency })`): at most `limit` passes of runs with the
 * same key execute at once, across every worker process. A run holds its slot while a pass of it
 * executes; a run that sleeps or waits holds none.
 *
 * @publicApi
 */
export interface WorkflowConcurrency {
  /** Passes at once per key (1 to 1 000 000). */
  limit: number;
  /** The key, computed from the run's validated input. @default one key for every run */
  key?: (input: never) => string | number;
}

/**
 * A run-level rate limit (`@Workflow({ rate })`): at most `limit` runs with the same key start in
 * any `per`. A run over the rate waits (idle) until its turn; none is dropped.
 *
 * @publicApi
 */
export interface WorkflowRate extends RateWindow {
  /** The key, computed from the run's validated input. @default one key for every run */
  key?: (input: never) => string | number;
}

/**
 * What `client.start` does when a run of the workflow with the same singleton key is active
 * (idle or running): `'skip'` starts nothing and returns the active run's handle; `'queue'` starts
 * the run, which waits idle until the runs before it ended; `'cancelPrevious'` cancels the active
 * runs (reason `superseded by run <key>`) and starts the run.
 *
 * @publicApi
 */
export type SingletonMode = 'skip' | 'queue' | 'cancelPrevious';

/**
 * At most one active run per key (`@Workflow({ singleton })`).
 *
 * @publicApi
 */
export interface WorkflowSingleton {
  /** The key, computed from the run's validated input. @default one key for every run */
  key?: (input: never) => string | number;
  mode: SingletonMode;
}

/**
 * Debounced starts (`@Workflow({ debounce })`): a run starts `period` after its `start`, and a
 * later `start` with the same key within that time cancels it (reason `debounced by run <key>`):
 * the last start of a burst runs, once the starts paused for `period`.
 *
 * @publicApi
 */
export interface WorkflowDebounce {
  /** Quiet time before the run starts, e.g. `'30s'` (1 ms to 366 days). */
  period: Duration;
  /** The key, computed from the run's validated input. @default one key for every run */
  key?: (input: never) => string | number;
}
