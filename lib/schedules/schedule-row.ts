import type { WorkflowState } from '../database/entities/workflow.entity.js';
import { CronSpec } from './cron-spec.js';
import type { ScheduleInfo, ScheduleOverlap } from './schedule.interface.js';
import type { ScheduleSpec } from './schedule-spec.js';
import type { BackfillRange, ScheduleState } from './tick-plan.js';

/** States in which a run has ended: a schedule's previous run in any other state is still going. */
export const ENDED_RUN_STATES: readonly WorkflowState[] = [
  'completed',
  'failed',
  'cancelled',
  'compensated',
];

/** A `chrono_forge_schedules` row as PostgreSQL returns it (`bigint`s as text). */
export interface ScheduleRow {
  name: string;
  workflow: string;
  cron: string;
  time_zone: string;
  input: Record<string, unknown> | null;
  overlap: ScheduleOverlap;
  catchup_window_ms: string;
  jitter_ms: string;
  origin: 'decorator' | 'client';
  paused: boolean;
  next_tick_at: Date | null;
  due_at: Date | null;
  buffered_tick_at: Date | null;
  last_tick_at: Date | null;
  last_run_id: string | null;
  last_run_key: string | null;
  triggers: number[];
  backfills: BackfillRange[];
  ticks_fired: string;
  ticks_skipped: string;
  ticks_missed: string;
  last_missed: { count: number; exact: boolean; from: number; to: number; at: number } | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  /** State of `last_run_id`'s run (joined), `null` when it no longer exists. */
  last_run_state?: WorkflowState | null;
}

const ms = (d: Date | null): number | null => (d ? d.getTime() : null);

/** The definition part of a row. */
export function specOf(row: ScheduleRow): ScheduleSpec {
  return {
    workflow: row.workflow,
    cron: row.cron,
    timeZone: row.time_zone,
    input: row.input,
    overlap: row.overlap,
    catchupWindowMs: Number(row.catchup_window_ms),
    jitterMs: Number(row.jitter_ms),
  };
}

/** The planner's view of a claimed row. */
export function stateOf(row: ScheduleRow): ScheduleState {
  return {
    name: row.name,
    spec: specOf(row),
    paused: row.paused,
    nextTickMs: ms(row.next_tick_at),
    bufferedTickMs: ms(row.buffered_tick_at),
    previousActive:
      row.last_run_state !== undefined &&
      row.last_run_state !== null &&
      !ENDED_RUN_STATES.includes(row.last_run_state),
    triggers: row.triggers ?? [],
    backfills: row.backfills ?? [],
  };
}

/** What `client.schedules.get()` returns for a row. */
export function infoOf(row: ScheduleRow): ScheduleInfo {
  const spec = specOf(row);
  const next = row.paused || !row.next_tick_at ? [] : nextTicks(spec, row.next_tick_at.getTime());
  const missed = row.last_missed;
  return {
    name: row.name,
    workflow: spec.workflow,
    cron: spec.cron,
    timeZone: spec.timeZone,
    input: spec.input,
    overlap: spec.overlap,
    catchupWindowMs: spec.catchupWindowMs,
    jitterMs: spec.jitterMs,
    origin: row.origin,
    state: row.paused ? 'paused' : 'active',
    nextTicks: next.map((t) => new Date(t)),
    lastTickAt: row.last_tick_at,
    lastRun: row.last_run_key ? { key: row.last_run_key, state: row.last_run_state ?? null } : null,
    bufferedTickAt: row.buffered_tick_at,
    pending: { triggers: (row.triggers ?? []).length, backfills: (row.backfills ?? []).length },
    ticks: {
      fired: Number(row.ticks_fired),
      skipped: Number(row.ticks_skipped),
      missed: Number(row.ticks_missed),
    },
    lastMissed: missed
      ? {
          count: missed.count,
          exact: missed.exact,
          from: new Date(missed.from),
          to: new Date(missed.to),
          at: new Date(missed.at),
        }
      : null,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The stored next tick and the four after it. */
function nextTicks(spec: ScheduleSpec, nextMs: number): number[] {
  return [nextMs, ...new CronSpec(spec.cron, spec.timeZone).upcoming(nextMs, 4)];
}
