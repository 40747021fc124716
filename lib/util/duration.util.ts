import ms from 'ms';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from './describe.util.js';

/**
 * A unit of a {@link DurationString}, as the `ms` package reads it (`'ms'`, `'s'`, `'m'`, `'h'`,
 * `'d'`, `'w'`, `'y'` and their long forms such as `'minutes'`).
 *
 * @publicApi
 */
export type DurationUnit =
  | 'Years'
  | 'Year'
  | 'Yrs'
  | 'Yr'
  | 'Y'
  | 'Weeks'
  | 'Week'
  | 'W'
  | 'Days'
  | 'Day'
  | 'D'
  | 'Hours'
  | 'Hour'
  | 'Hrs'
  | 'Hr'
  | 'H'
  | 'Minutes'
  | 'Minute'
  | 'Mins'
  | 'Min'
  | 'M'
  | 'Seconds'
  | 'Second'
  | 'Secs'
  | 'Sec'
  | 's'
  | 'Milliseconds'
  | 'Millisecond'
  | 'Msecs'
  | 'Msec'
  | 'Ms';

type DurationUnitAnyCase = DurationUnit | Uppercase<DurationUnit> | Lowercase<DurationUnit>;

/**
 * A duration written as text: `'250ms'`, `'5m'`, `'1h'`, `'7d'`, `'2 hours'`.
 *
 * Declared here (the same strings the `ms` package accepts) so the published types need no
 * `@types/ms`.
 *
 * @publicApi
 */
export type DurationString =
  `${number}` | `${number}${DurationUnitAnyCase}` | `${number} ${DurationUnitAnyCase}`;

/**
 * A duration: a number of milliseconds or a {@link DurationString} such as `'250ms'`, `'5m'`,
 * `'1h'`, `'7d'`.
 *
 * @publicApi
 */
export type Duration = number | DurationString;

/**
 * Longest accepted duration of any kind: 1000 years. A sleep, a retry delay or a timeout becomes a
 * wake time (now + duration) the engine stores, and a JavaScript `Date` ends about 270 000 years
 * from now (past it the write would fail for ever, retried until `maxDuration`); PostgreSQL
 * computes `now() - maxDuration` to find stale locks, and a timestamp cannot go back much further
 * (4713 BC).
 */
export const MAX_DURATION_MS = 1000 * 365.25 * 24 * 3_600_000;

/** The longest accepted `maxDuration` ({@link MAX_DURATION_MS}). */
export const MAX_MAX_DURATION_MS = MAX_DURATION_MS;

/**
 * Converts a {@link Duration} to milliseconds, failing with `InvalidOptionsError` on anything
 * that is not a finite, non-negative duration of at most 1000 years.
 */
export function toMs(value: Duration, what = 'duration'): number {
  let out: number | undefined;
  if (typeof value === 'number') out = value;
  else if (typeof value === 'string' && value.trim() !== '') out = ms(value);
  if (out === undefined || !Number.isFinite(out) || out < 0) {
    throw new InvalidOptionsError(
      `Invalid ${what}: ${describeValue(value)}. Use milliseconds or a string like '250ms', '5m', '1h', '7d'.`,
    );
  }
  if (out > MAX_DURATION_MS) {
    throw new InvalidOptionsError(
      `Invalid ${what}: ${describeValue(value)} is longer than 1000 years.`,
    );
  }
  return Math.round(out);
}

/** {@link toMs} for a `maxDuration` (the same bound, kept as its own entry point). */
export function toMaxDurationMs(value: Duration, what: string): number {
  return toMs(value, what);
}
