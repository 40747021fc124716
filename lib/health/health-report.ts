import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';
import { type Duration, toMs } from '../util/duration.util.js';

/** `up` when a check (or every check of a report) passed, `down` otherwise. @publicApi */
export type HealthStatus = 'up' | 'down';

/** What every check reports. @publicApi */
export interface HealthCheckResult {
  readonly status: HealthStatus;
  /** Why the check is `down` (absent when `up`). */
  readonly message?: string;
}

/** `SELECT 1` through the engine's connection pool. @publicApi */
export interface DatabaseHealth extends HealthCheckResult {
  /** How long the round trip took. */
  readonly latencyMs: number;
}

/** The queue backend answers: a read of the queue's job counts, in Redis or in the PostgreSQL queue's tables. @publicApi */
export interface QueueHealth extends HealthCheckResult {
  readonly backend: 'redis' | 'postgres';
  /** How long the round trip took. */
  readonly latencyMs: number;
}

/** This worker process's heartbeat: `down` once older than `worker.deadAfter`. @publicApi */
export interface HeartbeatHealth extends HealthCheckResult {
  /** The id this process writes its heartbeat under (also the prefix of its lock owners). */
  readonly workerId: string;
  /** Age of the last successful heartbeat; `null` before the first one. */
  readonly ageMs: number | null;
  /** `worker.deadAfter`: past it other workers take over this process's locks. */
  readonly deadAfterMs: number;
}

/**
 * Runs due but not picked up, cluster-wide: idle, unlocked runs whose `next_run_at` passed.
 * `down` when the oldest is overdue by more than the threshold (no worker takes jobs, the queue
 * lost wake-ups and no sweeper runs, or the workers cannot keep up).
 * @publicApi
 */
export interface SweeperHealth extends HealthCheckResult {
  /** How many runs are due and unpicked (at most 10 000 are counted). */
  readonly dueRuns: number;
  /** How long the oldest of them has been due (0 when none). */
  readonly lagMs: number;
  /** The `sweeperLagThreshold` the lag was compared with. */
  readonly thresholdMs: number;
}

/** The result of {@link ChronoForgeHealth.check}. @publicApi */
export interface HealthReport {
  /** `up` when every check is `up`. */
  readonly status: HealthStatus;
  readonly checks: {
    readonly database: DatabaseHealth;
    readonly queue: QueueHealth;
    /** Only in a worker process (`worker` is not `false`). */
    readonly heartbeat?: HeartbeatHealth;
    readonly sweeper: SweeperHealth;
  };
}

/** Options of {@link ChronoForgeHealth.check}. @publicApi */
export interface HealthCheckOptions {
  /**
   * How long the oldest due, unpicked run may wait before the sweeper check is `down`. Keep it
   * above `recovery.every` (the sweeper re-enqueues lost wake-ups that often). @default '2m'
   */
  sweeperLagThreshold?: Duration;
  /** How long each check may take before it is `down`. @default '5s' */
  timeout?: Duration;
}

/** {@link HealthCheckOptions} in milliseconds. @internal */
export interface ResolvedHealthCheckOptions {
  readonly sweeperLagThresholdMs: number;
  readonly timeoutMs: number;
}

/** Validates {@link HealthCheckOptions}; throws `InvalidOptionsError` naming the bad option. @internal */
export function resolveHealthCheckOptions(
  options: HealthCheckOptions = {},
): ResolvedHealthCheckOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new InvalidOptionsError(
      `ChronoForgeHealth.check: options must be an object like { sweeperLagThreshold: '2m' }, got ${describeValue(options)}.`,
    );
  const timeoutMs = toMs(options.timeout ?? '5s', 'ChronoForgeHealth.check `timeout`');
  if (timeoutMs < 1)
    throw new InvalidOptionsError(
      'Invalid ChronoForgeHealth.check `timeout`: 0. Give each check at least 1ms (e.g. `5s`).',
    );
  return {
    sweeperLagThresholdMs: toMs(
      options.sweeperLagThreshold ?? '2m',
      'ChronoForgeHealth.check `sweeperLagThreshold`',
    ),
    timeoutMs,
  };
}
