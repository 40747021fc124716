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
 * What `client.limits.get()` / `list()` report about a named limit.
 *
 * @publicApi
 */
export interface LimitInfo {
  name: string;
  /** The definition in force: the runtime override if one is set, otherwise the declared one. */
  effective: LimitDefinition | null;
  /** From `forRoot({ limits })` (or a workflow's run-level limit), as the last booted process declared it. */
  declared: LimitDefinition | null;
  /** Set by `client.limits.set()`; `null` after `client.limits.reset()`. */
  override: LimitDefinition | null;
  /** Slots held now, per key. */
  holders: LimitHolder[];
  /** Runs waiting now, in the order they will be admitted. */
  waiting: LimitWaiter[];
}

/**
 * A slot held on a limit.
 *
 * @publicApi
 */
export interface LimitHolder {
  key: string;
  runId: string;
  /** The step log name holding the slot, or `'$run'` for a run-level limit. */
  holder: string;
  /** The pass holding it: `<worker id>/<job id>`. */
  owner: string | null;
  acquiredAt: Date | null;
}

/**
 * A run waiting on a limit.
 *
 * @publicApi
 */
export interface LimitWaiter {
  key: string;
  runId: string;
  holder: string;
  priority: number;
  queuedAt: Date;
}
