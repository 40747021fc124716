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

/**
 * Longest accepted `maxDuration`: 1000 years. PostgreSQL computes `now() - maxDuration` to find
 * stale locks, and a timestamp cannot go back much further (4713 BC).
 */
export const MAX_MAX_DURATION_MS = 1000 * 365.25 * 24 * 3_600_000;

/** {@link toMs} for a `maxDuration`: also fails past {@link MAX_MAX_DURATION_MS}. */
export function toMaxDurationMs(value: Duration, what: string): number {
  const out = toMs(value, what);
  if (out > MAX_MAX_DURATION_MS) {
    throw new InvalidOptionsError(
      `Invalid ${what}: ${describeValue(value)} is longer than 1000 years.`,
    );
  }
  return out;
}
