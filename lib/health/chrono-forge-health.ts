import { Inject, Injectable } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { WorkerHeartbeat } from '../worker/worker-heartbeat.js';
import { WorkflowExecutor } from '../executor/workflow.executor.js';
import { ChronoForgeClock } from '../util/clock.js';
import { redactUrl } from '../util/redact.util.js';
import {
  type DatabaseHealth,
  type HealthCheckOptions,
  type HealthReport,
  type HeartbeatHealth,
  type QueueHealth,
  resolveHealthCheckOptions,
  type SweeperHealth,
} from './health-report.js';

/** At most this many due runs are counted (the count is a symptom, not an inventory). */
const DUE_COUNT_CAP = 10_000;

/**
 * The engine's health, framework-free: the database, the queue backend, this process's worker
 * heartbeat (in worker processes) and the sweeper lag (runs due but not picked up). Inject it
 * anywhere the module is imported; wrap it for `@nestjs/terminus` as the README's "Running in
 * production" section shows. A check never throws for an unhealthy component: it reports `down`
 * with a message.
 *
 * @example
 * ```ts
 * const report = await app.get(ChronoForgeHealth).check({ sweeperLagThreshold: '5m' });
 * if (report.status === 'down') console.error(report.checks);
 * ```
 *
 * @publicApi
 */
@Injectable()
export class ChronoForgeHealth {
  constructor(
    private readonly store: WorkflowStore,
    private readonly queue: WorkflowQueue,
    private readonly heartbeat: WorkerHeartbeat,
    private readonly executor: WorkflowExecutor,
    private readonly clock: ChronoForgeClock,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /**
   * Runs every check at once, each bounded by `timeout`.
   *
   * @throws InvalidOptionsError when an option is not a valid duration.
   */
  async check(options: HealthCheckOptions = {}): Promise<HealthReport> {
    const { sweeperLagThresholdMs, timeoutMs } = resolveHealthCheckOptions(options);
    const [database, queue, sweeper] = await Promise.all([
      this.database(timeoutMs),
      this.queueCheck(timeoutMs),
      this.sweeper(sweeperLagThresholdMs, timeoutMs),
    ]);
    const heartbeat = this.heartbeatCheck();
    const checks = { database, queue, sweeper, ...(heartbeat ? { heartbeat } : {}) };
    const down = Object.values(checks).some((c) => c.status === 'down');
    return { status: down ? 'down' : 'up', checks };
  }

  private async database(timeoutMs: number): Promise<DatabaseHealth> {
    const started = Date.now();
    const failure = await attempt(() => this.store.query('SELECT 1', []), timeoutMs, 'database');
    const latencyMs = Date.now() - started;
    return failure ? { status: 'down', message: failure, latencyMs } : { status: 'up', latencyMs };
  }

  private async queueCheck(timeoutMs: number): Promise<QueueHealth> {
    const backend = this.options.queue.kind;
    const started = Date.now();
    const failure = await attempt(
      // A round trip to the backend itself (Redis, or the PostgreSQL queue's tables).
      () => this.queue.bullQueue.getJobCounts('wait'),
      timeoutMs,
      'queue',
    );
    const latencyMs = Date.now() - started;
    return failure
      ? { status: 'down', message: failure, backend, latencyMs }
      : { status: 'up', backend, latencyMs };
  }

  private heartbeatCheck(): HeartbeatHealth | undefined {
    if (this.options.worker === false) return undefined;
    const { deadAfterMs } = this.options.worker;
    const workerId = this.executor.workerId;
    const last = this.heartbeat.lastBeatAt;
    if (last === undefined)
      return {
        status: 'down',
        message:
          'No heartbeat yet: the worker starts at application bootstrap (call app.init() or app.listen()).',
        workerId,
        ageMs: null,
        deadAfterMs,
      };
    const ageMs = Math.max(0, Date.now() - last);
    if (ageMs < deadAfterMs) return { status: 'up', workerId, ageMs, deadAfterMs };
    return {
      status: 'down',
      message: `The last heartbeat is ${ageMs}ms old, past worker.deadAfter (${deadAfterMs}ms): other workers may take over this process's locks. Check the database connection.`,
      workerId,
      ageMs,
      deadAfterMs,
    };
  }

  private async sweeper(thresholdMs: number, timeoutMs: number): Promise<SweeperHealth> {
    let row: { oldest: Date | null; due: number } | undefined;
    const now = this.clock.now();
    const failure = await attempt(
      async () => {
        [row] = await this.store.query<{ oldest: Date | null; due: number }>(
          `SELECT min(next_run_at) AS oldest, count(*)::int AS due FROM (
             SELECT next_run_at FROM ${this.store.wf}
              WHERE state = 'idle' AND locked_by IS NULL AND next_run_at <= $1::timestamptz
              LIMIT ${DUE_COUNT_CAP}) due`,
          [new Date(now)],
        );
      },
      timeoutMs,
      'sweeper',
    );
    if (failure || !row)
      return { status: 'down', message: failure, dueRuns: 0, lagMs: 0, thresholdMs };
    const lagMs = row.oldest ? Math.max(0, now - row.oldest.getTime()) : 0;
    if (lagMs <= thresholdMs) return { status: 'up', dueRuns: row.due, lagMs, thresholdMs };
    return {
      status: 'down',
      message: `${row.due} run(s) due but not picked up, the oldest for ${lagMs}ms (threshold ${thresholdMs}ms): check that worker processes run and reach the queue.`,
      dueRuns: row.due,
      lagMs,
      thresholdMs,
    };
  }
}

/** Runs `probe` within `timeoutMs`; the failure's message (credentials redacted), or `undefined`. */
async function attempt(
  probe: () => Promise<unknown>,
  timeoutMs: number,
  what: string,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`The ${what} check timed out after ${timeoutMs}ms.`),
      timeoutMs,
    );
    timer.unref();
  });
  try {
    return await Promise.race([
      probe().then(
        () => undefined,
        (err: unknown) => redactUrl(err instanceof Error ? err.message : String(err)),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
