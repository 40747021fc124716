import { DateTime } from 'luxon';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { CalendarInterval, RepeatEvery } from '../options/workflow-options.interface.js';
import { toMs } from '../util/duration.util.js';

const DAY_MS = 86_400_000;
const APPROX_MS = {
  days: DAY_MS,
  weeks: 7 * DAY_MS,
  months: 30.436875 * DAY_MS,
  years: 365.2425 * DAY_MS,
};

/**
 * The grid of a repeat: tick `k` is `anchor + k·every`, always computed from the anchor (no drift,
 * month-end clamping relative to the anchor day). Any tick and the first tick at or after a time are
 * found in O(1).
 */
export class RepeatSchedule {
  private readonly fixedMs: number | undefined;
  private readonly calendar: Required<CalendarInterval> | undefined;
  /** Average length of one interval in ms. */
  readonly approxMs: number;

  constructor(
    every: RepeatEvery,
    readonly anchorMs: number,
    readonly timeZone = 'UTC',
  ) {
    if (typeof every === 'object' && every !== null) {
      const cal = {
        days: every.days ?? 0,
        weeks: every.weeks ?? 0,
        months: every.months ?? 0,
        years: every.years ?? 0,
      };
      const parts = Object.values(cal);
      if (parts.some((v) => !Number.isInteger(v) || v < 0) || parts.every((v) => v === 0)) {
        throw new InvalidOptionsError(
          `Repeat interval ${JSON.stringify(every)} needs non-negative integers and one non-zero unit.`,
        );
      }
      this.calendar = cal;
      this.approxMs =
        cal.days * APPROX_MS.days +
        cal.weeks * APPROX_MS.weeks +
        cal.months * APPROX_MS.months +
        cal.years * APPROX_MS.years;
    } else {
      const ms = toMs(every, 'repeat interval');
      if (ms < 1) throw new InvalidOptionsError('Repeat interval must be at least 1 ms.');
      // NOTE: whole days step on the calendar of the time zone, as in chrono_forge.
      if (ms % DAY_MS === 0) {
        this.calendar = { days: ms / DAY_MS, weeks: 0, months: 0, years: 0 };
      } else {
        this.fixedMs = ms;
      }
      this.approxMs = ms;
    }
    if (!DateTime.local().setZone(timeZone).isValid)
      throw new InvalidOptionsError(`Unknown time zone "${timeZone}".`);
    if (!Number.isFinite(anchorMs))
      throw new InvalidOptionsError('Repeat anchor must be a valid time.');
  }

  /** Scheduled time (epoch ms) of tick `k`. */
  tick(k: number): number {
    if (this.fixedMs !== undefined) return this.anchorMs + k * this.fixedMs;
    const c = this.calendar as Required<CalendarInterval>;
    return DateTime.fromMillis(this.anchorMs, { zone: this.timeZone })
      .plus({ years: c.years * k, months: c.months * k, weeks: c.weeks * k, days: c.days * k })
      .toMillis();
  }

  /** Smallest `k ≥ 0` whose tick is at or after `t`. */
  indexAtOrAfter(t: number): number {
    if (t <= this.anchorMs) return 0;
    if (this.fixedMs !== undefined) return Math.ceil((t - this.anchorMs) / this.fixedMs);
    let k = Math.max(0, Math.floor((t - this.anchorMs) / this.approxMs) - 2);
    while (this.tick(k) < t) k++;
    while (k > 0 && this.tick(k - 1) >= t) k--;
    return k;
  }
}

/** Where a repeat stands: its grid's anchor and the last tick run, failed or skipped. */
export interface RepeatPosition {
  anchorMs: number;
  /** Index of the last tick; `null` before the first. */
  lastIndex: number | null;
  /** Scheduled time of that tick. */
  lastMs: number | null;
}

/**
 * The position of a repeat on the grid of `every` (and `timeZone`). Unchanged while the grid is the
 * one the position was recorded on: tick `lastIndex` is then `lastMs`. When the interval (or time
 * zone) changed between deploys, the old index means nothing on the new grid (`300ms` → `3s` after
 * 40 ticks would put the next tick 2 minutes out), so the grid restarts at the last tick: the next
 * one is one new interval after it.
 */
export function alignPosition(
  every: RepeatEvery,
  timeZone: string | undefined,
  position: RepeatPosition,
): RepeatPosition {
  const { anchorMs, lastIndex, lastMs } = position;
  if (lastIndex === null || lastMs === null) return position;
  if (new RepeatSchedule(every, anchorMs, timeZone).tick(lastIndex) === lastMs) return position;
  return { anchorMs: lastMs, lastIndex: 0, lastMs };
}
