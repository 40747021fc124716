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
 * Converts a {@link Duration} to milliseconds, failing with `InvalidOptionsError` on anything
 * that is not a finite, non-negative duration.
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
  return Math.round(out);
}
