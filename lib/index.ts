/**
 * ChronoForge for NestJS — durable workflows from decorated service methods.
 *
 * @example
 * ```ts
 * @Module({ imports: [ChronoForgeModule.forRoot({ database: { url }, queue: { redis: { url: redisUrl } } })] })
 * class AppModule {}
 *
 * @Injectable()
 * class Orders {
 *   constructor(private readonly payments: Payments) {}
 *   @Workflow('orders.fulfil') async fulfil(input: { orderId: string }) {
 *     return this.payments.charge(input.orderId); // @DurableStep(): runs once, replays from the log
 *   }
 * }
 * ```
 *
 * @packageDocumentation
 */
export * from './chrono-forge.module.js';
export * from './client/workflow-handle.js';
export * from './client/workflow-run.interface.js';
export * from './client/workflow.client.js';
export * from './client/run-history.interface.js';
export type { CancelOptions } from './sagas/cancel-options.interface.js';
export type { CancelInfo, OnCancelOptions } from './options/on-cancel-options.interface.js';
export * from './decorators/index.js';
export * from './errors/index.js';
export { RetryPolicy, CompositeRetryPolicy } from './retry/retry-policy.js';
export type {
  ErrorClass,
  RetryOption,
  RetryPolicyOptions,
  RetryStrategy,
} from './retry/retry-policy.js';
export * from './context/workflow-context.js';
export {
  type DurableState,
  type JsonValue,
  MAX_STATE_VALUE_BYTES,
} from './context/durable-state.js';
export {
  type AttributeValue,
  MAX_ATTRIBUTE_TEXT_LENGTH,
  MAX_ATTRIBUTES,
  type SearchAttributes,
  type SearchAttributesUpdate,
} from './definitions/search-attributes.js';
export * from './options/index.js';
export * from './limits/index.js';
export { ChronoForgeDatabase } from './database/chrono-forge-database.js';
export * from './database/entities/index.js';
export { WorkflowQueue } from './queue/workflow.queue.js';
export { WorkflowWorker } from './worker/workflow.worker.js';
export { BranchMergeJob } from './branches/branch-merge.job.js';
export type { Duration, DurationString, DurationUnit } from './util/duration.util.js';
export { chronoForgeMigrations } from '../migrations/index.js';
export { ChronoForgeClock, TestClock } from './util/clock.js';
export type { MergeMode, MergeOptions, SpawnSpec } from './branches/branch-specs.js';
export type { ChildError, ChildOutcome, MergeResult } from './branches/merge-result.js';
export type { SpawnSource } from './branches/spawn-source.js';
export type { CallOptions, ChildHandle } from './branches/call-specs.js';
export { ComposingContext } from './context/composing-context.js';
export type { PollRecord } from './branches/branch-merge.job.js';
export { Cleanup } from './operations/cleanup.js';
export type { CleanupOptions, CleanupResult } from './operations/cleanup.js';
export { ChronoForgeOperationsModule } from './operations/chrono-forge-operations.module.js';
export { EmbeddedPostgresError } from './errors/embedded-postgres.error.js';
export { EmbeddedPostgresServer } from './database/embedded-postgres.js';
export type { EmbeddedPostgresServerOptions } from './database/embedded-postgres.js';
export type { PostgresEndpoint } from './database/connecting.js';
export { ChronoForgeMetrics, type PassOutcome } from './observability/chrono-forge-metrics.js';
export { ChronoForgeTracer } from './observability/chrono-forge-tracer.js';
export * from './dashboard/index.js';
export { CliUsageError } from './errors/cli-usage.error.js';
export { redactUrl } from './util/redact.util.js';
export { ScheduleClient } from './client/schedule.client.js';
export { ChronoForgeHealth } from './health/chrono-forge-health.js';
export type {
  DatabaseHealth,
  HealthCheckOptions,
  HealthCheckResult,
  HealthReport,
  HealthStatus,
  HeartbeatHealth,
  QueueHealth,
  SweeperHealth,
} from './health/health-report.js';
export type {
  CreateScheduleOptions,
  MissedTicksReport,
  ScheduledOptions,
  ScheduledRunInput,
  ScheduleInfo,
  ScheduleOverlap,
  ScheduleTimingOptions,
  UpdateScheduleOptions,
} from './schedules/schedule.interface.js';
