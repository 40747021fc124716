import ms from 'ms';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from './describe.util.js';

/**
 * A duration: a number of milliseconds or an `ms`-style string such as `'250ms'`, `'5m'`, `'1h'`,
 * `'7d'`.
 *
 * @publicApi
 */
export type Duration = number | ms.StringValue;

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
