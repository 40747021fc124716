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
