import { describe, expect, it } from 'vitest';
import { CronSpec } from '../../lib/schedules/cron-spec.js';
import type { ScheduleSpec } from '../../lib/schedules/schedule-spec.js';
import {
  BUFFER_RECHECK_MS,
  planTicks,
  type ScheduleState,
  TICKS_PER_CLAIM,
} from '../../lib/schedules/tick-plan.js';

const T0 = Date.parse('2026-05-01T00:00:00Z');
const sec = (n: number) => T0 + n * 1000;
const everySecond = new CronSpec('* * * * * *');

function state(
  o: Partial<Omit<ScheduleState, 'spec'>> & { spec?: Partial<ScheduleSpec> } = {},
): ScheduleState {
  const spec: ScheduleSpec = {
    workflow: 'w',
    cron: '* * * * * *',
    timeZone: 'UTC',
    input: null,
    overlap: 'allow',
    catchupWindowMs: 3_600_000,
    jitterMs: 0,
    ...o.spec,
  };
  return {
    name: 's',
    paused: false,
    nextTickMs: sec(1),
    bufferedTickMs: null,
    previousActive: false,
    triggers: [],
    backfills: [],
    ...o,
    spec,
  };
}

describe('planTicks', () => {
  it('should start one run per due tick and wait for the next one', () => {
    const plan = planTicks(state(), everySecond, sec(3) + 400);
    expect(plan.start).toEqual([1, 2, 3].map((n) => ({ tickMs: sec(n), kind: 'tick' })));
    expect(plan).toMatchObject({
      nextTickMs: sec(4),
      dueMs: sec(4),
      lastTickMs: sec(3),
      missed: null,
    });
  });

  it('should fire nothing before the first tick is due', () => {
    const plan = planTicks(state(), everySecond, sec(1) - 1);
    expect(plan.start).toEqual([]);
    expect(plan.dueMs).toBe(sec(1));
  });

  it('should catch up ticks inside the window and collapse older ones into one report', () => {
    const plan = planTicks(
      state({ spec: { catchupWindowMs: 2_000 } }),
      everySecond,
      sec(600) + 500,
    );
    expect(plan.missed).toEqual({ count: 598, exact: true, from: sec(1), to: sec(598) });
    expect(plan.start.map((s) => s.tickMs)).toEqual([sec(599), sec(600)]);
    expect(plan.nextTickMs).toBe(sec(601));
  });

  it('should collapse a year of missed per-second ticks without walking them', () => {
    const started = performance.now();
    const plan = planTicks(
      state({ spec: { catchupWindowMs: 1_000 } }),
      everySecond,
      sec(365 * 86_400),
    );
    expect(plan.missed).toMatchObject({ count: 365 * 86_400 - 2, exact: false });
    expect(plan.start.map((s) => s.tickMs)).toEqual([sec(365 * 86_400 - 1), sec(365 * 86_400)]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('should hand at most TICKS_PER_CLAIM ticks to one claim and be due again at once', () => {
    const now = sec(500);
    const plan = planTicks(state(), everySecond, now);
    expect(plan.start).toHaveLength(TICKS_PER_CLAIM);
    expect(plan.nextTickMs).toBe(sec(TICKS_PER_CLAIM + 1));
    expect(plan.dueMs).toBeLessThanOrEqual(now);
  });

  describe('overlap while the previous run is going', () => {
    const busy = (overlap: ScheduleSpec['overlap']) =>
      planTicks(state({ previousActive: true, spec: { overlap } }), everySecond, sec(3));

    it("'allow' starts every tick", () => {
      expect(busy('allow').start.map((s) => s.tickMs)).toEqual([sec(1), sec(2), sec(3)]);
    });

    it("'skip' starts none and counts them skipped", () => {
      const plan = busy('skip');
      expect(plan.start).toEqual([]);
      expect(plan.skipped).toEqual([sec(1), sec(2), sec(3)]);
      expect(plan.lastTickMs).toBe(sec(3));
    });

    it("'bufferOne' keeps the first tick for later and skips the others", () => {
      const plan = busy('bufferOne');
      expect(plan.start).toEqual([]);
      expect(plan.bufferedTickMs).toBe(sec(1));
      expect(plan.skipped).toEqual([sec(2), sec(3)]);
      expect(plan.dueMs).toBe(sec(3) + BUFFER_RECHECK_MS);
    });

    it("'bufferOne' starts the buffered tick once the previous run ended, before new ticks", () => {
      const plan = planTicks(
        state({ bufferedTickMs: sec(1), nextTickMs: sec(4), spec: { overlap: 'bufferOne' } }),
        everySecond,
        sec(5),
      );
      expect(plan.start).toEqual([{ tickMs: sec(1), kind: 'buffered' }]);
      expect(plan.bufferedTickMs).toBe(sec(4));
      expect(plan.skipped).toEqual([sec(5)]);
    });

    it("'cancelPrevious' cancels the running one and starts only the latest tick", () => {
      const plan = busy('cancelPrevious');
      expect(plan.cancelPrevious).toBe(true);
      expect(plan.start).toEqual([{ tickMs: sec(3), kind: 'tick' }]);
      expect(plan.skipped).toEqual([sec(1), sec(2)]);
    });
  });

  it("'skip' with nothing running starts the first due tick and skips the rest of a burst", () => {
    const plan = planTicks(state({ spec: { overlap: 'skip' } }), everySecond, sec(3));
    expect(plan.start.map((s) => s.tickMs)).toEqual([sec(1)]);
    expect(plan.skipped).toEqual([sec(2), sec(3)]);
  });

  it('should run triggers even while paused, under the overlap policy, and leave ticks alone', () => {
    const plan = planTicks(
      state({
        paused: true,
        nextTickMs: sec(1),
        triggers: [sec(10), sec(11)],
        spec: { overlap: 'skip' },
      }),
      everySecond,
      sec(12),
    );
    expect(plan.start).toEqual([{ tickMs: sec(10), kind: 'trigger' }]);
    expect(plan.skipped).toEqual([sec(11)]);
    expect(plan).toMatchObject({ triggers: [], nextTickMs: sec(1), dueMs: null });
  });

  it('should start backfill ticks whatever the overlap, in batches, resuming where it stopped', () => {
    const backfills = [{ next: sec(0), to: sec(149) }];
    const first = planTicks(
      state({ paused: true, previousActive: true, backfills, spec: { overlap: 'skip' } }),
      everySecond,
      sec(1_000),
    );
    expect(first.start).toHaveLength(TICKS_PER_CLAIM);
    expect(first.start.every((s) => s.kind === 'backfill')).toBe(true);
    expect(first.backfills).toEqual([{ next: sec(100), to: sec(149) }]);
    expect(first.dueMs).toBe(sec(1_000));
    const second = planTicks(
      state({ paused: true, backfills: first.backfills }),
      everySecond,
      sec(1_000),
    );
    expect(second.start.map((s) => s.tickMs)).toEqual(
      Array.from({ length: 50 }, (_, i) => sec(100 + i)),
    );
    expect(second.backfills).toEqual([]);
  });

  it('should delay each tick by its jitter and still hand the run the tick time', () => {
    const s = state({ spec: { jitterMs: 800 } });
    const plan = planTicks(s, everySecond, sec(1) + 800);
    expect(plan.start.map((x) => x.tickMs)).toEqual([sec(1)]);
    expect(plan.dueMs).toBeGreaterThanOrEqual(sec(2));
    expect(plan.dueMs).toBeLessThan(sec(2) + 800);
  });
});
