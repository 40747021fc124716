import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager, QueryRunner } from 'typeorm';
import { WorkflowClient } from '../client/workflow.client.js';
import { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import { InputValidationError } from '../errors/input-validation.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { InvalidTransitionError } from '../errors/invalid-transition.error.js';
import { SerializationError } from '../errors/serialization.error.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import { CronSpec } from '../schedules/cron-spec.js';
import { type ScheduleRow, stateOf } from '../schedules/schedule-row.js';
import { scheduledRunInput, scheduleRunKey } from '../schedules/schedule-spec.js';
import { type ClaimOutcome, ScheduleStore } from '../schedules/schedule.store.js';
import { planTicks, type TickPlan } from '../schedules/tick-plan.js';
import { ChronoForgeClock } from '../util/clock.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Most due schedules one transaction claims: many schedules due at the same tick cost a few
 * commits, not one each; other workers skip the locked rows and take the next ones.
 */
export const SCHEDULES_PER_CLAIM = 20;

/** Start failures that belong to the tick (its input), not to the database: the tick is consumed. */
function isTickError(err: unknown): err is Error {
  return (
    err instanceof InputValidationError ||
    err instanceof InvalidOptionsError ||
    err instanceof SerializationError
  );
}

/**
 * Handles due schedules: locks their rows (`FOR UPDATE SKIP LOCKED`, so each schedule is
 * handled by one worker at a time and no leader is needed), plans its ticks, starts their runs
 * with `client.start(…, { manager })` in the same transaction as the row's new position, and
 * commits. A crash before the commit leaves both untouched; the run keys (`sched:<name>:<tick>`)
 * make a replayed tick find its run instead of starting another.
 */
@Injectable()
export class ScheduleFirer {
  private readonly logger = new Logger('ChronoForge');

  constructor(
    private readonly db: ChronoForgeDatabase,
    private readonly store: ScheduleStore,
    private readonly client: WorkflowClient,
    private readonly workflows: WorkflowRegistry,
    private readonly clock: ChronoForgeClock,
    private readonly metrics: ChronoForgeMetrics,
  ) {}

  /**
   * Handles up to `limit` due schedules in one transaction (all or none: a failing claim rolls
   * the others back too, so after an error the ticker claims one at a time until a pass is clean).
   * Returns how many were handled (0: none of this process's workflows has one due).
   */
  async fireDue(limit: number = SCHEDULES_PER_CLAIM): Promise<number> {
    const names = this.workflows.names();
    if (names.length === 0) return 0;
    const claimed = await this.db.dataSource.transaction(async (manager) => {
      // NOTE: a manager from DataSource.transaction() always carries its transaction's runner.
      const runner = manager.queryRunner as QueryRunner;
      const rows = await this.store.claimDue(this.clock.now(), names, limit, runner);
      const done: { row: ScheduleRow; outcome: ClaimOutcome }[] = [];
      for (const row of rows) {
        const cron = new CronSpec(row.cron, row.time_zone);
        const plan = planTicks(stateOf(row), cron, this.clock.now());
        if (plan.cancelPrevious) await this.cancelPrevious(row);
        const outcome = await this.startRuns(row, plan, manager);
        await this.store.saveClaim(row.name, outcome, runner);
        done.push({ row, outcome });
      }
      return done;
    });
    for (const { row, outcome } of claimed) this.report(row, outcome);
    return claimed.length;
  }

  /** Metrics and logs of one committed claim. */
  private report(row: ScheduleRow, outcome: ClaimOutcome): void {
    const { plan } = outcome;
    this.metrics.scheduleClaim(
      row.workflow,
      outcome.fired,
      plan.skipped.length,
      plan.missed?.count ?? 0,
    );
    if (plan.missed) {
      const m = plan.missed;
      this.logger.warn(
        `Schedule "${row.name}": ${m.exact ? '' : '~'}${m.count} tick(s) from ${iso(m.from)} to ${iso(m.to)} missed ` +
          `(older than the ${row.catchup_window_ms} ms catch-up window when a worker could fire them); collapsed, no runs started.`,
      );
    }
    if (outcome.error) this.logger.error(`Schedule "${row.name}": ${outcome.error}`);
  }

  private async startRuns(
    row: ScheduleRow,
    plan: TickPlan,
    manager: EntityManager,
  ): Promise<ClaimOutcome> {
    const outcome: ClaimOutcome = {
      plan,
      lastRun: null,
      fired: 0,
      error: null,
      missedReport: plan.missed ? { ...plan.missed, at: this.clock.now() } : null,
    };
    for (const { tickMs, kind } of plan.start) {
      const key = scheduleRunKey(row.name, tickMs);
      try {
        const run = await this.client.start(row.workflow, {
          key,
          input: scheduledRunInput(row.input, tickMs),
          manager,
        });
        outcome.fired++;
        if (kind !== 'backfill') outcome.lastRun = { id: run.id, key };
      } catch (err) {
        if (!isTickError(err)) throw err;
        outcome.error = `tick ${iso(tickMs)} started no run: ${err.message}`;
      }
    }
    return outcome;
  }

  /** `'cancelPrevious'`: cancels the schedule's last run (already ended: nothing to do). */
  private async cancelPrevious(row: ScheduleRow): Promise<void> {
    if (!row.last_run_key) return;
    try {
      await this.client.cancel(row.last_run_key, { workflow: row.workflow });
    } catch (err) {
      if (!(err instanceof InvalidTransitionError) && !(err instanceof WorkflowNotFoundError))
        throw err;
    }
  }
}
