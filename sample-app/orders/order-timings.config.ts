import ms from 'ms';
import type { Duration } from '@chronoforge/nestjs';

/** DI token of the {@link OrderTimings} the order workflow runs with. */
export const ORDER_TIMINGS = Symbol('ORDER_TIMINGS');

/**
 * Durations of the order workflow that differ between the demo, tests and a real shop. They are
 * read when a wait is first reached and stored with it, so changing them affects new waits only.
 */
export interface OrderTimings {
  /** Durable sleep between "parcel at the dock" and booking the carrier. @default '1s' */
  coolOff: Duration;
  /** How long reminders go on while no delivery is confirmed. @default '7d' */
  deliveryWindow: Duration;
}

/** The demo's timings (a shop would use e.g. `coolOff: '30m'`). */
export const DEFAULT_ORDER_TIMINGS: OrderTimings = { coolOff: '1s', deliveryWindow: '7d' };

/** Milliseconds of a {@link Duration}; throws on anything `ms` cannot read. */
export function durationMs(duration: Duration, what = 'duration'): number {
  const out = typeof duration === 'number' ? duration : ms(duration);
  if (typeof out !== 'number' || !Number.isFinite(out) || out < 0) {
    throw new Error(`${what} must be milliseconds or a string like '250ms', '5m', '7d'.`);
  }
  return out;
}
