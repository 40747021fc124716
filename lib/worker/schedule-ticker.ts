import { Inject, Injectable, Logger } from '@nestjs/common';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { WakeListener } from '../queue/wake-listener.js';
import { CronSpec } from '../schedules/cron-spec.js';
import { ScheduleRegistry } from '../schedules/schedule.registry.js';
import { ScheduleStore } from '../schedules/schedule.store.js';
import { fireAt } from '../schedules/tick-plan.js';
import { ChronoForgeClock } from '../util/clock.js';
import { ScheduleFirer } from './schedule-firer.js';

/** Wait before looking again at a due schedule another worker holds. */
const HELD_RETRY_MS = 20;
/** Wait before looking again after the loop failed (the database is down, a claim failed). */
const ERROR_RETRY_MS = 1_000;

/**
 * The schedule loop of a worker process: writes the `@Scheduled()` schedules it declares at boot,
 * then handles due schedules until none is left, sleeps until the next due time (at most
 * `schedules.pollEvery`) and starts over. Every worker runs it; row locks share the work.
 *
 * Idle, it costs one statement per `pollEvery` (default 1 min): a schedule write (create, update,
 * resume, trigger, backfill) notifies every worker ({@link WakeListener}), which looks again at
 * once, and so does a worker whose listener reconnected.
 */
@Injectable()
export class ScheduleTicker {
  private readonly logger = new Logger('ChronoForge');
  private stopped = true;
  private synced = false;
  private loop: Promise<void> | undefined;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  /** Schedule writes notified so far: one during a look means the loop looks again at once. */
  private pokes = 0;
  /** The last look failed: claim schedules one per transaction until a look ends cleanly. */
  private failing = false;

  constructor(
    private readonly firer: ScheduleFirer,
    private readonly store: ScheduleStore,
    private readonly declared: ScheduleRegistry,
    private readonly workflows: WorkflowRegistry,
    private readonly clock: ChronoForgeClock,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
    listener: WakeListener,
  ) {
    listener.onSchedulesChanged(() => this.poke());
  }

  /** Looks at the schedules again now (a schedule was written). */
  poke(): void {
    this.pokes++;
    this.sleeping?.wake();
  }

  /** Starts the loop (not awaited: boot does not wait for the database to answer). */
  start(): void {
    if (this.options.schedules === false || !this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Stops the loop after the claim in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeping?.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const pollMs = this.options.schedules === false ? 60_000 : this.options.schedules.pollMs;
    while (!this.stopped) {
      let waitMs = pollMs;
      const pokes = this.pokes;
      try {
        if (!this.synced) await this.syncDeclared();
        // NOTE: after a failure, one schedule per transaction: a failing claim rolls back alone.
        while (!this.stopped && (await this.firer.fireDue(this.failing ? 1 : undefined)) > 0);
        this.failing = false;
        const due = await this.store.nextDueMs(this.workflows.names());
        // NOTE: a schedule still due now is held by another worker: look again shortly, not in a spin.
        const ahead = due === null ? pollMs : due - this.clock.now();
        waitMs = Math.min(pollMs, ahead > 0 ? ahead : HELD_RETRY_MS);
      } catch (err) {
        this.failing = true;
        waitMs = Math.min(pollMs, ERROR_RETRY_MS);
        this.logger.warn(`Schedule loop: ${(err as Error).message}; retrying in ${waitMs} ms`);
      }
      if (!this.stopped && this.pokes === pokes) await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeping = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping = { timer, wake };
    });
  }

  /**
   * Writes this process's `@Scheduled()` schedules: new ones start from the first tick after now;
   * one whose definition changed restarts from now (its state, counters and pause are kept);
   * decorator schedules of this process's workflows that it no longer declares are deleted.
   */
  async syncDeclared(): Promise<void> {
    const now = this.clock.now();
    for (const { name, spec, where } of this.declared.all()) {
      const next = new CronSpec(spec.cron, spec.timeZone).after(now);
      const due = next === null ? null : fireAt({ name, spec }, next);
      if (await this.store.insert(name, spec, 'decorator', false, next, due)) continue;
      if (await this.store.replaceSpec(name, spec, 'decorator', next, due)) {
        this.logger.log(`Schedule "${name}" (${where}) changed: restarted from now.`);
        continue;
      }
      const row = await this.store.find(name);
      if (row?.origin === 'client') {
        this.logger.error(
          `@Scheduled "${name}" on ${where} is not applied: client.schedules.create() made a schedule of that name. Delete it or rename one of them.`,
        );
      }
    }
    const names = this.declared.all().map((d) => d.name);
    const removed = await this.store.pruneDecorated(this.workflows.names(), names);
    if (removed.length > 0)
      this.logger.log(
        `Deleted schedule(s) no longer declared by @Scheduled: ${removed.join(', ')}.`,
      );
    this.synced = true;
  }
}
