import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from './chrono-forge.constants.js';
import {
  CHRONO_FORGE_MODULE_OPTIONS,
  ChronoForgeConfigurableModule,
} from './chrono-forge.module-definition.js';
import { WorkflowClient } from './client/workflow.client.js';
import { WorkflowMetadataAccessor } from './discovery/workflow-metadata.accessor.js';
import { WorkflowExplorer } from './discovery/workflow.explorer.js';
import { WorkflowRegistry } from './discovery/workflow.registry.js';
import { StepRunner } from './executor/step.runner.js';
import { FaultInjector } from './executor/fault-injector.js';
import { WorkerHeartbeat } from './executor/worker-heartbeat.js';
import { WorkflowContext } from './executor/workflow-context.js';
import { WorkflowExecutor } from './executor/workflow.executor.js';
import type { ChronoForgeModuleOptions } from './interfaces/chrono-forge-options.interface.js';
import { resolveOptions } from './module/resolve-options.js';
import { ChronoForgeDatabase } from './persistence/chrono-forge-database.js';
import { WorkflowStore } from './persistence/workflow.store.js';
import { WakeListener } from './persistence/wake-listener.js';
import { WorkflowQueue } from './queue/workflow.queue.js';
import { WorkflowWorker } from './queue/workflow.worker.js';
import { ChronoForgeClock } from './timers/clock.js';
import { ClockSync } from './timers/clock-sync.js';
import { ChronoForgeMetrics } from './observability/chrono-forge-metrics.js';
import { ChronoForgeTracer } from './observability/chrono-forge-tracer.js';
import { RepeatRunner } from './timers/repeat.runner.js';
import { BranchJobs } from './branches/branch-jobs.js';
import { BranchMergeJob } from './branches/branch-merge.job.js';
import { BranchRunner } from './branches/branch.runner.js';
import { BranchStore } from './branches/branch.store.js';
import { RepeatStore } from './timers/repeat.store.js';
import { TimerRunner } from './timers/timer.runner.js';
import { TimerStore } from './timers/timer.store.js';
import { Cleanup } from './operations/cleanup.js';
import { ScheduledCleanup } from './operations/scheduled-cleanup.js';

/**
 * Durable workflows for Nest. Import once, with `forRoot(options)` or
 * `forRootAsync({ imports, inject, useFactory })`; the module is global by default.
 *
 * @publicApi
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: CHRONO_FORGE_RESOLVED_OPTIONS,
      useFactory: (options: ChronoForgeModuleOptions) => resolveOptions(options),
      inject: [CHRONO_FORGE_MODULE_OPTIONS],
    },
    ChronoForgeClock,
    ChronoForgeMetrics,
    ChronoForgeTracer,
    ChronoForgeDatabase,
    ClockSync,
    WorkflowStore,
    WorkflowQueue,
    WorkflowRegistry,
    WorkflowMetadataAccessor,
    WorkflowExplorer,
    FaultInjector,
    StepRunner,
    TimerStore,
    TimerRunner,
    RepeatStore,
    RepeatRunner,
    BranchStore,
    BranchJobs,
    BranchRunner,
    BranchMergeJob,
    WorkflowExecutor,
    WorkerHeartbeat,
    WorkflowWorker,
    WakeListener,
    WorkflowContext,
    WorkflowClient,
    Cleanup,
    ScheduledCleanup,
  ],
  exports: [
    WorkflowClient,
    WorkflowContext,
    ChronoForgeClock,
    ChronoForgeMetrics,
    ChronoForgeDatabase,
    WorkflowQueue,
    WorkflowWorker,
    // NOTE: for the dashboard, which judges stale locks with the engine's own rule.
    WorkflowStore,
  ],
})
export class ChronoForgeModule extends ChronoForgeConfigurableModule {}
