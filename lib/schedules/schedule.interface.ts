import type { WorkflowState } from '../database/entities/workflow.entity.js';
import type { Duration } from '../util/duration.util.js';

/**
 * What a tick does while the schedule's previous run is still going (not `completed`, `failed` or
 * `cancelled`; a `stalled` run still counts as going):
 * - `'skip'`: the tick starts nothing (counted as skipped);
 * - `'bufferOne'`: the first such tick waits and starts when the previous run ends; further ones
 *   are skipped;
 * - `'allow'`: every tick starts its run;
 * - `'cancelPrevious'`: the previous run is cancelled and the tick's run starts.
 *
 * Ticks caught up after an outage follow the same rule, so with `'skip'` a burst of catch-up ticks
 * starts one run.
 *
 * @publicApi
 */
export type ScheduleOverlap = 'skip' | 'bufferOne' | 'allow' | 'cancelPrevious';

/**
 * Timing options shared by `@Scheduled()` and `client.schedules.create()`.
 *
 * @publicApi
 */
export interface ScheduleTimingOptions {
  /** IANA time zone the cron expression is read in. @default 'UTC' */
  timeZone?: string;
  /** See {@link ScheduleOverlap}. @default 'skip' */
  overlap?: ScheduleOverlap;
  /**
   * A tick no process fired within this long after its time (every worker was down) is missed:
   * such ticks are collapsed into one report (count and range on the schedule, a warning and the
   * `chronoforge_schedule_ticks_total{outcome="missed"}` metric) instead of starting runs. Ticks inside the
   * window are caught up one run each. @default '1h'
   */
  catchupWindow?: Duration;
  /**
   * Delays each tick's start by up to this much (a fixed offset per schedule and tick), to spread
   * schedules that share a cron expression. The run still receives the tick's own time. @default 0
   */
  jitter?: Duration;
}

/**
 * Options of `@Scheduled()`.
 *
 * @publicApi
 */
export interface ScheduledOptions extends ScheduleTimingOptions {
  /** Schedule name, unique in the deployment. @default the workflow's name */
  name?: string;
  /** Input of every run (a JSON object); `scheduledAt` is added to it. */
  input?: Record<string, unknown>;
}

/**
 * A schedule created at run time with `client.schedules.create()`.
 *
 * @publicApi
 */
export interface CreateScheduleOptions extends ScheduleTimingOptions {
  /** Cron expression: 5 fields, or 6 with seconds first (`'* * * * * *'` every second). */
  cron: string;
  /** Name of the `@Workflow()` each tick starts. */
  workflow: string;
  /** Input of every run (a JSON object); `scheduledAt` is added to it. */
  input?: Record<string, unknown>;
  /** Create it paused. @default false */
  paused?: boolean;
}

/** Changes of `client.schedules.update()`: any field of the schedule's definition. @publicApi */
export type UpdateScheduleOptions = Partial<Omit<CreateScheduleOptions, 'paused'>>;

/**
 * The input a scheduled run receives: the schedule's `input` plus the tick's scheduled time (a
 * `Date`; its key is `sched:<schedule>:<scheduledAt ISO>`).
 *
 * @publicApi
 */
export type ScheduledRunInput<I extends object = Record<string, never>> = I & {
  scheduledAt: Date;
};

/**
 * Ticks that passed while no process could fire them and that were older than the catch-up
 * window: collapsed into this one report, with no run.
 *
 * @publicApi
 */
export interface MissedTicksReport {
  /** How many ticks were missed (extrapolated past 1000, see `exact`). */
  count: number;
  /** False when `count` was extrapolated from the first 1000 ticks' mean interval. */
  exact: boolean;
  /** First and last missed tick. */
  from: Date;
  to: Date;
  /** When the collapse happened. */
  at: Date;
}

/**
 * A schedule as `client.schedules.get()` and `list()` return it.
 *
 * @publicApi
 */
export interface ScheduleInfo {
  name: string;
  workflow: string;
  cron: string;
  timeZone: string;
  input: Record<string, unknown> | null;
  overlap: ScheduleOverlap;
  catchupWindowMs: number;
  jitterMs: number;
  /** `'decorator'` for `@Scheduled()`, `'client'` for `client.schedules.create()`. */
  origin: 'decorator' | 'client';
  state: 'active' | 'paused';
  /** The next (up to 5) tick times; empty while paused. */
  nextTicks: Date[];
  /** The tick the schedule handled last (fired, skipped or buffered). */
  lastTickAt: Date | null;
  /** The run the schedule started last and its state (`null` once the run was deleted). */
  lastRun: { key: string; state: WorkflowState | null } | null;
  /** A `'bufferOne'` tick waiting for the previous run to end. */
  bufferedTickAt: Date | null;
  /** `trigger()` calls and backfill ranges not yet processed by a worker. */
  pending: { triggers: number; backfills: number };
  /** Lifetime counters of this schedule. */
  ticks: { fired: number; skipped: number; missed: number };
  /** The last collapse of missed ticks, if any. */
  lastMissed: MissedTicksReport | null;
  /** Why the last tick could not start its run (e.g. its input failed validation), if it failed. */
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Metadata stored by `@Scheduled()`. */
export interface ScheduledMetadata extends ScheduledOptions {
  cron: string;
}
