import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/index.js';
import { alignPosition, RepeatSchedule } from '../../lib/definitions/repeat-schedule.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('RepeatSchedule', () => {
  it('should place sub-day ticks on a fixed grid and find the first tick at or after a time in O(1)', () => {
    const s = new RepeatSchedule('1m', Date.UTC(2026, 0, 1));
    expect(s.tick(0)).toBe(Date.UTC(2026, 0, 1));
    expect(s.tick(1_000_000)).toBe(Date.UTC(2026, 0, 1) + 1_000_000 * 60_000);
    expect(s.indexAtOrAfter(Date.UTC(2026, 0, 1) + 90_000)).toBe(2);
    expect(s.indexAtOrAfter(Date.UTC(2026, 0, 1) + 120_000)).toBe(2);
    expect(s.indexAtOrAfter(Date.UTC(2025, 0, 1))).toBe(0);
  });

  it('should clamp a monthly grid to month ends relative to the start day, without drift', () => {
    const s = new RepeatSchedule({ months: 1 }, Date.UTC(2026, 0, 31, 9, 0));
    expect([0, 1, 2, 3, 4].map((k) => iso(s.tick(k)))).toEqual([
      '2026-01-31T09:00:00.000Z',
      '2026-02-28T09:00:00.000Z',
      '2026-03-31T09:00:00.000Z',
      '2026-04-30T09:00:00.000Z',
      '2026-05-31T09:00:00.000Z',
    ]);
    expect(iso(s.tick(s.indexAtOrAfter(Date.UTC(2026, 1, 28, 10))))).toBe(
      '2026-03-31T09:00:00.000Z',
    );
  });

  it('should find the first calendar tick after a time far in the future', () => {
    const s = new RepeatSchedule({ months: 1 }, Date.UTC(2026, 0, 31));
    const k = s.indexAtOrAfter(Date.UTC(2126, 5, 15));
    expect(s.tick(k)).toBeGreaterThanOrEqual(Date.UTC(2126, 5, 15));
    expect(s.tick(k - 1)).toBeLessThan(Date.UTC(2126, 5, 15));
    expect(iso(s.tick(k))).toBe('2126-06-30T00:00:00.000Z');
  });

  it('should keep a daily tick at the same local time across a DST change', () => {
    // 2026-03-08 is the US spring-forward day: 09:00 local is 14:00Z before and 13:00Z after.
    const s = new RepeatSchedule('1d', Date.UTC(2026, 2, 7, 14, 0), 'America/New_York');
    expect([0, 1, 2].map((k) => iso(s.tick(k)))).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
    expect(s.tick(1) - s.tick(0)).toBe(23 * 3600_000);
    expect(s.indexAtOrAfter(Date.UTC(2026, 2, 8, 13, 30))).toBe(2);
  });

  it('should step weekly intervals on the calendar in UTC by default', () => {
    const s = new RepeatSchedule({ weeks: 2 }, Date.UTC(2026, 0, 1));
    expect(iso(s.tick(3))).toBe('2026-02-12T00:00:00.000Z');
  });

  it('should reject invalid intervals and time zones', () => {
    expect(() => new RepeatSchedule({ months: 0 }, 0)).toThrow(InvalidOptionsError);
    expect(() => new RepeatSchedule({ days: 1.5 }, 0)).toThrow(InvalidOptionsError);
    expect(() => new RepeatSchedule(0, 0)).toThrow(InvalidOptionsError);
    expect(() => new RepeatSchedule('1h', 0, 'Mars/Olympus')).toThrow(InvalidOptionsError);
    expect(() => new RepeatSchedule('1h', Number.NaN)).toThrow(InvalidOptionsError);
  });
});

describe('alignPosition (interval changed between deploys)', () => {
  const anchor = Date.UTC(2026, 0, 1);
  /** The tick after `position` on the grid of `every`. */
  const nextTick = (every: Parameters<typeof alignPosition>[0], timeZone?: string) => {
    return (position: Parameters<typeof alignPosition>[2]) => {
      const p = alignPosition(every, timeZone, position);
      return new RepeatSchedule(every, p.anchorMs, timeZone).tick((p.lastIndex ?? -1) + 1);
    };
  };

  it('should keep the position while the grid is unchanged', () => {
    const position = { anchorMs: anchor, lastIndex: 3, lastMs: anchor + 900 };
    expect(alignPosition('300ms', undefined, position)).toBe(position);
    const before = { anchorMs: anchor, lastIndex: null, lastMs: null };
    expect(alignPosition('3s', undefined, before)).toBe(before);
  });

  it('should put the next tick one new interval after the last one when the interval grows or shrinks', () => {
    // Four ticks of 300 ms ran (indexes 0..3); the deploy changed the interval to 3 s.
    const last = { anchorMs: anchor, lastIndex: 3, lastMs: anchor + 900 };
    expect(nextTick('3s')(last)).toBe(anchor + 900 + 3_000);
    // Shrinking must not go back before the last tick (nor onto an old tick's name).
    const slow = { anchorMs: anchor, lastIndex: 10, lastMs: anchor + 30_000 };
    expect(nextTick('1s')(slow)).toBe(anchor + 31_000);
  });

  it('should move a daily repeat changed to weekly one week after its last tick, not 100 weeks', () => {
    const last = { anchorMs: anchor, lastIndex: 100, lastMs: anchor + 100 * 86_400_000 };
    expect(new Date(nextTick({ weeks: 1 })(last)).toISOString()).toBe(
      new Date(anchor + 107 * 86_400_000).toISOString(),
    );
  });

  it('should restart the grid at the last tick when the time zone of a calendar interval changed', () => {
    // 09:00 in New York (14:00Z in winter), then the deploy sets the zone to Europe/Paris.
    const last = {
      anchorMs: Date.UTC(2026, 0, 1, 14),
      lastIndex: 5,
      lastMs: Date.UTC(2026, 0, 6, 14),
    };
    expect(alignPosition('1d', 'America/New_York', last)).toBe(last);
    expect(nextTick('1d', 'Europe/Paris')(last)).toBe(Date.UTC(2026, 0, 7, 14));
  });
});
