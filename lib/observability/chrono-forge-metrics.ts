import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';
import { withoutOccurrence } from '../util/names.util.js';

/** How a pass ended (`compensating`: it began the run's rollback). */
export type PassOutcome =
  | 'completed'
  | 'failed'
  | 'stalled'
  | 'cancelled'
  | 'compensating'
  | 'compensated'
  | 'halted'
  | 'retrying'
  | 'lock_lost';

/** Pass outcomes that are the run's terminal state. */
const FINISHED: ReadonlySet<PassOutcome> = new Set([
  'completed',
  'failed',
  'stalled',
  'cancelled',
  'compensated',
]);

/**
 * ChronoForge's Prometheus metrics, in their own registry (merge it into yours with
 * `Registry.merge([appRegistry, metrics.registry])`, or serve `metrics.registry.metrics()`).
 *
 * @publicApi
 */
@Injectable()
export class ChronoForgeMetrics {
  readonly registry = new Registry();
  readonly runsStarted = new Counter({
    name: 'chronoforge_runs_started_total',
    help: 'Runs created by WorkflowClient.start',
    labelNames: ['workflow'],
    registers: [this.registry],
  });
  readonly passes = new Counter({
    name: 'chronoforge_passes_total',
    help: 'Workflow passes by outcome',
    labelNames: ['workflow', 'outcome'],
    registers: [this.registry],
  });
  readonly runsFinished = new Counter({
    name: 'chronoforge_runs_finished_total',
    help: 'Runs that reached completed, failed or stalled',
    labelNames: ['workflow', 'state'],
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: 'chronoforge_step_duration_seconds',
    help: 'Duration of executed (not replayed) durable steps, by step name (without its #n occurrence)',
    labelNames: ['workflow', 'step', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly queueLag = new Histogram({
    name: 'chronoforge_queue_lag_seconds',
    help: 'Time an immediate job waited in the queue (a start run in place: start to pass)',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly wakeLateness = new Histogram({
    name: 'chronoforge_wake_lateness_seconds',
    help: 'How late a delayed wake-up started after its scheduled time',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly lockConflicts = new Counter({
    name: 'chronoforge_lock_conflicts_total',
    help: 'Passes that found the run locked by another pass',
    registers: [this.registry],
  });
  readonly limitRefusals = new Counter({
    name: 'chronoforge_limit_refusals_total',
    help: 'Steps or passes a limit refused (the run parked idle), by the refusing limit',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly limitLateGrants = new Counter({
    name: 'chronoforge_limit_late_grants_total',
    help: 'Rate grants given up and asked again: the process could not start the body within the guard',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly limitWait = new Histogram({
    name: 'chronoforge_limit_wait_seconds',
    help: 'Time from the first refusal to the admission by a limit (0 when admitted at once)',
    labelNames: ['limit'],
    buckets: [0, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
    registers: [this.registry],
  });
  readonly scheduleTicks = new Counter({
    name: 'chronoforge_schedule_ticks_total',
    help: 'Schedule ticks by outcome: fired (its run started, or found when fired again), skipped (overlap policy), missed (older than the catch-up window, collapsed)',
    labelNames: ['workflow', 'outcome'],
    registers: [this.registry],
  });

  readonly cleanupRuns = new Counter({
    name: 'chronoforge_cleanup_runs_total',
    help: 'Cleanup.run calls (scheduled or not) by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly cleanupDeleted = new Counter({
    name: 'chronoforge_cleanup_deleted_total',
    help: 'Rows Cleanup.run deleted, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  /** Records one cleanup and the rows it deleted (also those of a cleanup that failed midway). */
  cleanupRun(
    ok: boolean,
    deleted: { workflows: number; executionLogs: number; errorLogs: number; repeatTicks: number },
  ): void {
    this.cleanupRuns.inc({ outcome: ok ? 'ok' : 'failed' });
    this.cleanupDeleted.inc({ kind: 'workflows' }, deleted.workflows);
    this.cleanupDeleted.inc({ kind: 'execution_logs' }, deleted.executionLogs);
    this.cleanupDeleted.inc({ kind: 'error_logs' }, deleted.errorLogs);
    this.cleanupDeleted.inc({ kind: 'repeat_ticks' }, deleted.repeatTicks);
  }

  /** Records what one claim of a schedule did with its ticks. */
  scheduleClaim(workflow: string, fired: number, skipped: number, missed: number): void {
    if (fired > 0) this.scheduleTicks.inc({ workflow, outcome: 'fired' }, fired);
    if (skipped > 0) this.scheduleTicks.inc({ workflow, outcome: 'skipped' }, skipped);
    if (missed > 0) this.scheduleTicks.inc({ workflow, outcome: 'missed' }, missed);
  }

  /** Records how a pass ended (and the run's terminal state, if it reached one). */
  pass(workflow: string, outcome: PassOutcome): void {
    this.passes.inc({ workflow, outcome });
    if (FINISHED.has(outcome)) this.runsFinished.inc({ workflow, state: outcome });
  }

  /**
   * Records the duration of an executed step body. The `step` label is the step's name without its
   * occurrence suffix (`step$item#2` is counted as `step$item`), so a loop over one step makes one
   * series, not one per iteration.
   */
  step(workflow: string, stepName: string, outcome: string, seconds: number): void {
    this.stepDuration.observe({ workflow, step: withoutOccurrence(stepName), outcome }, seconds);
  }

  /** Records queue timing of a job: lateness for delayed wake-ups, lag for immediate ones. */
  job(timestamp: number, delay: number, now = Date.now()): void {
    if (delay > 0) this.wakeLateness.observe(Math.max(0, now - (timestamp + delay)) / 1000);
    else this.queueLag.observe(Math.max(0, now - timestamp) / 1000);
  }
}
