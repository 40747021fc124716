import { SetMetadata } from '@nestjs/common';
import { SCHEDULED_METADATA } from '../options/chrono-forge.constants.js';
import type { ScheduledMetadata, ScheduledOptions } from '../schedules/schedule.interface.js';

/**
 * Starts the `@Workflow()` method it decorates on a cron schedule, exactly once per tick across
 * every process of the deployment; the run's key is `sched:<name>:<tick ISO>` and its input the
 * `input` option plus `scheduledAt` (the tick's time, a `Date`). Ticks missed while no worker ran
 * are caught up within `catchupWindow`; older ones are collapsed into one report. The schedule is
 * stored in PostgreSQL and written by worker processes at boot (a changed cron takes effect from
 * the boot of the first worker that has it; a removed decorator deletes the schedule).
 *
 * Cron: 5 fields, or 6 with seconds first; read in `timeZone` (DST: see the README, "Schedules").
 *
 * @example
 * ```ts
 * @Scheduled('0 9 * * 1-5', { timeZone: 'Europe/Paris', catchupWindow: '1h' })
 * @Workflow('reports.daily')
 * async daily(input: ScheduledRunInput) { ... }
 * ```
 * @publicApi
 */
export function Scheduled(cron: string, options: ScheduledOptions = {}): MethodDecorator {
  return SetMetadata(SCHEDULED_METADATA, { ...options, cron } satisfies ScheduledMetadata);
}
