import { Injectable } from '@nestjs/common';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { InvalidCronError } from '../errors/invalid-cron.error.js';
import { ScheduleExistsError } from '../errors/schedule-exists.error.js';
import { ScheduleNotEditableError } from '../errors/schedule-not-editable.error.js';
import { ScheduleNotFoundError } from '../errors/schedule-not-found.error.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import { COUNT_CAP, CronSpec } from '../schedules/cron-spec.js';
import type {
  CreateScheduleOptions,
  ScheduleInfo,
  UpdateScheduleOptions,
} from '../schedules/schedule.interface.js';
import { infoOf, specOf } from '../schedules/schedule-row.js';
import {
  assertScheduleName,
  scheduleRunKey,
  type ScheduleSpec,
  toScheduleSpec,
} from '../schedules/schedule-spec.js';
import { ScheduleStore } from '../schedules/schedule.store.js';
import { fireAt } from '../schedules/tick-plan.js';
import { ChronoForgeClock } from '../util/clock.js';

/** Most ticks one `backfill()` call may cover. */
export const MAX_BACKFILL_TICKS = COUNT_CAP * 10;

/**
 * `client.schedules`: durable cron schedules that start runs. Every call is a write to (or read
 * of) PostgreSQL; worker processes fire the ticks, so a client-only process (`worker: false`) can
 * manage schedules too.
 *
 * @publicApi
 */
@Injectable()
export class ScheduleClient {
  constructor(
    private readonly store: ScheduleStore,
    private readonly workflows: WorkflowRegistry,
    private readonly clock: ChronoForgeClock,
  ) {}

  /** Creates a schedule; its first tick is the first cron time after now. */
  async create(name: string, options: CreateScheduleOptions): Promise<ScheduleInfo> {
    assertScheduleName(name);
    const spec = this.checkSpec(name, options);
    const paused = options.paused === true;
    const next = this.nextTick(spec, this.clock.now());
    const due = paused || next === null ? null : fireAt({ name, spec }, next);
    if (!(await this.store.insert(name, spec, 'client', paused, next, due)))
      throw new ScheduleExistsError(name);
    return this.get(name);
  }

  /**
   * Changes a `client.schedules.create()` schedule. A new cron or time zone restarts it from now
   * (its next tick is the first new one after now); other changes apply from the next tick.
   */
  async update(name: string, changes: UpdateScheduleOptions): Promise<ScheduleInfo> {
    const row = await this.row(name);
    if (row.origin !== 'client') throw new ScheduleNotEditableError(name, 'update');
    const old = specOf(row);
    const spec = this.checkSpec(name, {
      cron: old.cron,
      workflow: old.workflow,
      timeZone: old.timeZone,
      input: old.input ?? undefined,
      overlap: old.overlap,
      catchupWindow: old.catchupWindowMs,
      jitter: old.jitterMs,
      ...changes,
    });
    const restart = spec.cron !== old.cron || spec.timeZone !== old.timeZone;
    const next = restart
      ? this.nextTick(spec, this.clock.now())
      : (row.next_tick_at?.getTime() ?? null);
    const due = next === null ? null : fireAt({ name, spec }, next);
    await this.store.replaceSpec(name, spec, 'client', next, due);
    return this.get(name);
  }

  /** Stops firing ticks (and drops a buffered one); pending triggers and backfills still run. */
  async pause(name: string): Promise<void> {
    assertScheduleName(name);
    if (!(await this.store.setPaused(name, true, null, null))) await this.row(name);
  }

  /** Fires ticks again, from the first tick after now: ticks that fell while paused never run. */
  async resume(name: string): Promise<void> {
    const row = await this.row(name);
    if (!row.paused) return;
    const spec = specOf(row);
    const next = this.nextTick(spec, this.clock.now());
    await this.store.setPaused(
      name,
      false,
      next,
      next === null ? null : fireAt({ name, spec }, next),
    );
  }

  /**
   * Asks for a tick now, under the schedule's overlap policy (also while paused). The write
   * wakes the workers (NOTIFY), one of which starts its run at once; returns that run's key.
   */
  async trigger(name: string): Promise<string> {
    assertScheduleName(name);
    const at = this.clock.now();
    if (!(await this.store.addTrigger(name, at))) throw new ScheduleNotFoundError(name);
    return scheduleRunKey(name, at);
  }

  /**
   * Starts one run for every tick of the cron between `from` and `to` (both included), whatever
   * the overlap policy; a tick that already has its run keeps it (run keys derive from the tick).
   * Workers start them in batches of 100. Returns how many ticks the range holds.
   */
  async backfill(name: string, from: Date, to: Date): Promise<{ ticks: number }> {
    const row = await this.row(name);
    const fromMs = from instanceof Date ? from.getTime() : NaN;
    const toMs = to instanceof Date ? to.getTime() : NaN;
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs > toMs)
      throw new InvalidCronError(
        `backfill("${name}", from, to) needs two valid Dates with from <= to.`,
      );
    const cron = new CronSpec(row.cron, row.time_zone);
    let n = 0;
    for (let t = cron.atOrAfter(fromMs); t !== null && t <= toMs; t = cron.after(t)) {
      if (++n > MAX_BACKFILL_TICKS)
        throw new InvalidCronError(
          `backfill("${name}") covers more than ${MAX_BACKFILL_TICKS} ticks; split the range.`,
        );
    }
    if (n > 0) await this.store.addBackfill(name, { next: fromMs, to: toMs }, this.clock.now());
    return { ticks: n };
  }

  /** Deletes a `client.schedules.create()` schedule; its runs are left alone. */
  async delete(name: string): Promise<void> {
    assertScheduleName(name);
    const origin = await this.store.delete(name);
    if (origin === undefined) throw new ScheduleNotFoundError(name);
    if (origin === 'decorator') throw new ScheduleNotEditableError(name, 'delete');
  }

  /** A schedule with its next ticks, last run and counters. */
  async get(name: string): Promise<ScheduleInfo> {
    return infoOf(await this.row(name));
  }

  /** Every schedule (or those of one workflow), by name. */
  async list(filter: { workflow?: string } = {}): Promise<ScheduleInfo[]> {
    return (await this.store.list(filter.workflow)).map(infoOf);
  }

  private async row(name: string) {
    assertScheduleName(name);
    const row = await this.store.find(name);
    if (!row) throw new ScheduleNotFoundError(name);
    return row;
  }

  private checkSpec(name: string, options: CreateScheduleOptions): ScheduleSpec {
    const spec = toScheduleSpec(options, `"${name}"`);
    if (!this.workflows.get(spec.workflow)) {
      throw new WorkflowNotFoundError(
        `Schedule "${name}" names workflow "${spec.workflow}", which is not registered in this application. Known: ${this.workflows.names().join(', ') || '(none)'}.`,
      );
    }
    return spec;
  }

  private nextTick(spec: ScheduleSpec, nowMs: number): number | null {
    return new CronSpec(spec.cron, spec.timeZone).after(nowMs);
  }
}
