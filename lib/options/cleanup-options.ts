import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';
import { type Duration, toMs } from '../util/duration.util.js';

/** Options of {@link Cleanup.run}. @publicApi */
export interface CleanupOptions {
  /** Retention of terminal runs without a more specific option. @default '90d' */
  olderThan?: Duration;
  /** Retention of `completed` runs, measured from `completed_at`. @default olderThan */
  completedOlderThan?: Duration;
  /** Retention of `failed`, `cancelled` and `compensated` runs, from `finished_at`. @default olderThan */
  failedOlderThan?: Duration;
  /**
   * Opt-in: also delete terminal `@Repeat` tick rows of any run (running ones included) whose
   * scheduled time is older than this and strictly behind the repeat's frontier.
   */
  pruneRepeatTicksOlderThan?: Duration;
  /** Rows per delete statement. @default 1000 */
  batchSize?: number;
}

/** {@link CleanupOptions} validated, with defaults, durations in milliseconds. */
export interface ResolvedCleanupOptions {
  completedOlderThanMs: number;
  failedOlderThanMs: number;
  /** `null`: repeat ticks are not pruned. */
  pruneRepeatTicksOlderThanMs: number | null;
  batchSize: number;
}

const MAX_BATCH_SIZE = 100_000;

/**
 * Validates cleanup options (those of `Cleanup.run()` and of the module option `cleanup`) and
 * applies the defaults; fails with `InvalidOptionsError` naming `where`.
 */
export function resolveCleanupOptions(options: unknown, where: string): ResolvedCleanupOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionsError(`${where} options must be an object.`);
  }
  const o = options as CleanupOptions;
  const batchSize = o.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new InvalidOptionsError(
      `${where} batchSize must be an integer in 1..${MAX_BATCH_SIZE}, got ${describeValue(batchSize)}.`,
    );
  }
  const ms = (value: Duration, what: string) => toMs(value, `${where} ${what}`);
  const olderThanMs = ms(o.olderThan ?? '90d', 'olderThan');
  const specific = (value: Duration | undefined, what: string) =>
    value === undefined ? olderThanMs : ms(value, what);
  return {
    completedOlderThanMs: specific(o.completedOlderThan, 'completedOlderThan'),
    failedOlderThanMs: specific(o.failedOlderThan, 'failedOlderThan'),
    pruneRepeatTicksOlderThanMs:
      o.pruneRepeatTicksOlderThan === undefined
        ? null
        : ms(o.pruneRepeatTicksOlderThan, 'pruneRepeatTicksOlderThan'),
    batchSize,
  };
}
