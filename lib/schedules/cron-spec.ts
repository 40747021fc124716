import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { DateTime } from 'luxon';
import { InvalidCronError } from '../errors/invalid-cron.error.js';

/** Ticks counted one by one before the rest of a long missed range is extrapolated. */
export const COUNT_CAP = 1_000;

/** How many missed ticks a range held: exact, or extrapolated past {@link COUNT_CAP}. */
export interface TickCount {
  count: number;
  exact: boolean;
}

/**
 * A cron expression on the wall clock of a time zone (cron-parser, 5 fields or 6 with seconds
 * first, `@daily` and the like). Times are epoch milliseconds; ticks fall on whole seconds.
 *
 * DST follows Vixie cron, as cron-parser implements it:
 * - a local time the spring-forward gap skips fires once, shifted by the gap (02:30 → 03:30 in
 *   Europe/Paris), and merges with a tick already due at that instant;
 * - a local time the fall-back repeats fires once, at its first occurrence, when the hour field
 *   is fixed (`30 2 * * *`); with a wildcard hour (`0 * * * *`) every real hour fires, both 02:00s.
 */
export class CronSpec {
  private readonly expr: CronExpression;

  constructor(
    readonly cron: string,
    readonly timeZone = 'UTC',
  ) {
    if (typeof cron !== 'string' || cron.trim() === '' || cron.length > 200)
      throw new InvalidCronError(
        `Cron expression must be a non-empty string of at most 200 characters, got ${JSON.stringify(cron)}.`,
      );
    if (typeof timeZone !== 'string' || !DateTime.local().setZone(timeZone).isValid)
      throw new InvalidCronError(
        `Unknown time zone ${JSON.stringify(timeZone)} (use an IANA name such as 'Europe/Paris').`,
      );
    try {
      this.expr = CronExpressionParser.parse(cron, { tz: timeZone, currentDate: new Date(0) });
      this.expr.next();
    } catch (err) {
      throw new InvalidCronError(
        `Invalid cron expression "${cron}": ${(err as Error).message}. Use 5 fields (minute hour day month weekday) or 6 with seconds first.`,
        { cause: err },
      );
    }
  }

  /** First tick strictly after `ms`, or `null` when the expression has none. */
  after(ms: number): number | null {
    this.expr.reset(new Date(ms));
    try {
      return this.expr.next().getTime();
    } catch {
      return null;
    }
  }

  /** First tick at or after `ms`. */
  atOrAfter(ms: number): number | null {
    return this.after(ms - 1);
  }

  /** Last tick strictly before `ms`, or `null`. */
  before(ms: number): number | null {
    this.expr.reset(new Date(ms));
    try {
      return this.expr.prev().getTime();
    } catch {
      return null;
    }
  }

  /** The next `n` ticks strictly after `ms`. */
  upcoming(ms: number, n: number): number[] {
    const out: number[] = [];
    let t: number | null = ms;
    while (out.length < n && (t = this.after(t)) !== null) out.push(t);
    return out;
  }

  /**
   * Ticks in `[from, to)`: counted one by one up to {@link COUNT_CAP}, then extrapolated from the
   * mean interval of those, so a month-long outage of a per-second schedule costs the same as a
   * minute's.
   */
  count(from: number, to: number): TickCount {
    let n = 0;
    let t = this.atOrAfter(from);
    while (t !== null && t < to && n < COUNT_CAP) {
      n++;
      t = this.after(t);
    }
    if (t === null || t >= to) return { count: n, exact: true };
    const first = this.atOrAfter(from) as number;
    const mean = (t - first) / n;
    return { count: n + Math.ceil((to - t) / mean), exact: false };
  }
}

/**
 * Offset (ms, in `[0, jitterMs)`) added to a tick's firing time: derived from the schedule's name
 * and the tick, so every process computes the same one.
 */
export function jitterOffset(name: string, tickMs: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  // FNV-1a over name and tick: stable across processes and versions.
  let h = 0x811c9dc5;
  for (const ch of `${name}@${tickMs}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return Math.floor((h / 0x1_0000_0000) * jitterMs);
}
