import { type CronSpec, jitterOffset, type TickCount } from './cron-spec.js';
import type { ScheduleSpec } from './schedule-spec.js';

/** Most ticks one claim of a schedule handles; the rest follow in the next claim, at once. */
export const TICKS_PER_CLAIM = 100;
/** How often a worker looks again whether the run holding back a buffered tick ended. */
export const BUFFER_RECHECK_MS = 1_000;

/** A range of ticks `backfill()` still has to start: ticks at or after `next`, up to `to`. */
export interface BackfillRange {
  next: number;
  to: number;
}

/** Where a schedule stands when a worker claims it (times in epoch ms). */
export interface ScheduleState {
  name: string;
  spec: ScheduleSpec;
  paused: boolean;
  nextTickMs: number | null;
  bufferedTickMs: number | null;
  /** The schedule's last run exists and has not ended. */
  previousActive: boolean;
  /** Times of pending `trigger()` calls. */
  triggers: number[];
  backfills: BackfillRange[];
}

/** Why a run starts. */
export type StartKind = 'tick' | 'trigger' | 'buffered' | 'backfill';

/** What one claim does: computed from the state alone, so every rule is unit-testable. */
export interface TickPlan {
  /** Ticks older than the catch-up window, collapsed: no run. */
  missed: (TickCount & { from: number; to: number }) | null;
  /** Runs to start, in order. */
  start: { tickMs: number; kind: StartKind }[];
  /** Ticks the overlap policy dropped. */
  skipped: number[];
  /** Cancel the schedule's previous run (`'cancelPrevious'`). */
  cancelPrevious: boolean;
  bufferedTickMs: number | null;
  nextTickMs: number | null;
  /** When a worker must look at the schedule again; `null`: only after a change. */
  dueMs: number | null;
  /** Latest live tick handled (fired, skipped or buffered), if any. */
  lastTickMs: number | null;
  triggers: number[];
  backfills: BackfillRange[];
}

/** Regular ticks due at `now`, after collapsing those older than the catch-up window. */
function dueTicks(
  s: ScheduleState,
  cron: CronSpec,
  now: number,
  budget: number,
): Pick<TickPlan, 'missed' | 'nextTickMs'> & { ticks: number[] } {
  let t = s.nextTickMs;
  let missed: TickPlan['missed'] = null;
  const cutoff = now - s.spec.catchupWindowMs;
  if (t !== null && t < cutoff) {
    const first = cron.atOrAfter(cutoff);
    const end = first ?? now;
    missed = { ...cron.count(t, end), from: t, to: cron.before(end) ?? t };
    t = first;
  }
  const ticks: number[] = [];
  while (t !== null && ticks.length < budget && fireAt(s, t) <= now) {
    ticks.push(t);
    t = cron.after(t);
  }
  return { missed, ticks, nextTickMs: t };
}

/** When tick `t` of the schedule fires: its time plus the schedule's jitter for it. */
export function fireAt(s: Pick<ScheduleState, 'name' | 'spec'>, t: number): number {
  return t + jitterOffset(s.name, t, s.spec.jitterMs);
}

/**
 * The plan of one claim at `now`: pending triggers, then regular ticks (missed ones older than the
 * catch-up window collapsed in O(1)), both under the overlap policy; then backfill ticks, which
 * start whatever the policy (they are past ticks, and their keys make them idempotent).
 */
export function planTicks(s: ScheduleState, cron: CronSpec, now: number): TickPlan {
  let budget = TICKS_PER_CLAIM;
  const triggers = s.triggers.slice(0, budget);
  budget -= triggers.length;
  const due = s.paused
    ? { missed: null, ticks: [], nextTickMs: s.nextTickMs }
    : dueTicks(s, cron, now, budget);
  budget -= due.ticks.length;
  const live = [
    ...triggers.map((t) => ({ t, kind: 'trigger' as const })),
    ...due.ticks.map((t) => ({ t, kind: 'tick' as const })),
  ];
  const plan: TickPlan = {
    missed: due.missed,
    start: [],
    skipped: [],
    cancelPrevious: false,
    bufferedTickMs: s.bufferedTickMs,
    nextTickMs: due.nextTickMs,
    dueMs: null,
    lastTickMs: live.length > 0 ? Math.max(...live.map((x) => x.t)) : null,
    triggers: s.triggers.slice(triggers.length),
    backfills: [],
  };
  let active = s.previousActive;
  if (plan.bufferedTickMs !== null && !active) {
    plan.start.push({ tickMs: plan.bufferedTickMs, kind: 'buffered' });
    plan.bufferedTickMs = null;
    active = true;
  }
  for (const { t, kind } of live) {
    const overlap = s.spec.overlap;
    if (!active || overlap === 'allow') {
      plan.start.push({ tickMs: t, kind });
    } else if (overlap === 'bufferOne' && plan.bufferedTickMs === null) {
      plan.bufferedTickMs = t;
    } else if (overlap === 'cancelPrevious') {
      const superseded = plan.start.pop();
      if (superseded) plan.skipped.push(superseded.tickMs);
      else plan.cancelPrevious = true;
      plan.start.push({ tickMs: t, kind });
    } else {
      plan.skipped.push(t);
    }
    active = true;
  }
  for (const range of s.backfills) {
    let t = cron.atOrAfter(range.next);
    while (t !== null && t <= range.to && budget > 0) {
      plan.start.push({ tickMs: t, kind: 'backfill' });
      budget--;
      t = cron.after(t);
    }
    if (t !== null && t <= range.to) plan.backfills.push({ next: t, to: range.to });
  }
  plan.dueMs = nextDue(s, plan, now);
  return plan;
}

function nextDue(s: ScheduleState, plan: TickPlan, now: number): number | null {
  if (plan.triggers.length > 0 || plan.backfills.length > 0) return now;
  const times: number[] = [];
  if (!s.paused && plan.nextTickMs !== null) times.push(fireAt(s, plan.nextTickMs));
  if (plan.bufferedTickMs !== null) times.push(now + BUFFER_RECHECK_MS);
  return times.length > 0 ? Math.min(...times) : null;
}
