import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from './options/chrono-forge.constants.js';
import {
  CHRONO_FORGE_MODULE_OPTIONS,
  ChronoForgeConfigurableModule,
} from './chrono-forge.module-definition.js';
import { WorkflowClient } from './client/workflow.client.js';
import { WorkflowMetadataAccessor } from './discovery/workflow-metadata.accessor.js';
import { WorkflowExplorer } from './discovery/workflow.explorer.js';
import { DurableMethods } from './context/durable-methods.js';
import { WorkflowRegistry } from './definitions/workflow.registry.js';
import { StepRunner } from './steps/step.runner.js';
import { FaultInjector } from './steps/fault-injector.js';
import { WorkerHeartbeat } from './worker/worker-heartbeat.js';
import { WorkflowContext } from './context/workflow-context.js';
import { EventRecorder } from './context/event-recorder.js';
import { AttributeRecorder } from './context/attribute-recorder.js';
import { AttributeStore } from './persistence/attribute.store.js';
import { WorkflowExecutor } from './executor/workflow.executor.js';
import { InPlaceStarts } from './executor/in-place-starts.js';
import { PassSlots } from './executor/pass-slots.js';
import { UnservedRuns } from './executor/unserved-runs.js';
import type { ChronoForgeModuleOptions } from './options/chrono-forge-options.interface.js';
import { resolveOptions } from './options/resolve-options.js';
import { ChronoForgeDatabase } from './database/chrono-forge-database.js';
import { WorkflowStore } from './persistence/workflow.store.js';
import { WakeListener } from './queue/wake-listener.js';
import { WorkflowQueue } from './queue/workflow.queue.js';
import { WorkflowWorker } from './worker/workflow.worker.js';
import { ChronoForgeClock } from './util/clock.js';
import { ClockSync } from './database/clock-sync.js';
import { ChronoForgeMetrics } from './observability/chrono-forge-metrics.js';
import { ChronoForgeTracer } from './observability/chrono-forge-tracer.js';
import { RepeatRunner } from './timers/repeat.runner.js';
import { BranchMergeJob } from './branches/branch-merge.job.js';
import { BranchRunner } from './branches/branch.runner.js';
import { CallRunner } from './branches/call.runner.js';
import { MergeRunner } from './branches/merge.runner.js';
import { CallStore } from './branches/call.store.js';
import { BranchStore } from './branches/branch.store.js';
import { RepeatStore } from './timers/repeat.store.js';
import { TimerRunner } from './timers/timer.runner.js';
import { TimerStore } from './timers/timer.store.js';
import { Cleanup } from './operations/cleanup.js';
import { LimitDeclarations } from './limits/limit-declarations.js';
import { LimitGate } from './limits/limit-gate.js';
import { FlowCalls } from './limits/flow-calls.js';
import { LimitStore } from './limits/limit.store.js';
import { WorkflowLimits } from './limits/workflow-limits.js';
import { ScheduledCleanup } from './operations/scheduled-cleanup.js';
import { ScheduleStore } from './schedules/schedule.store.js';
import { ScheduleRegistry } from './schedules/schedule.registry.js';
import { ScheduleClient } from './client/schedule.client.js';
import { ScheduleFirer } from './worker/schedule-firer.js';
import { ScheduleTicker } from './worker/schedule-ticker.js';
import { RollbackRunner } from './sagas/rollback.runner.js';
import { AbortWatcher } from './lifecycle/abort-watcher.js';
import { SagaStore } from './sagas/saga.store.js';
import { CancelStore } from './sagas/cancel.store.js';
import { RunCanceller } from './sagas/run-canceller.js';
import { DeadlineEnforcer } from './sagas/deadline-enforcer.js';
import { StalledDeadlines } from './sagas/stalled-deadlines.js';
import { ChronoForgeHealth } from './health/chrono-forge-health.js';
import { WorkflowInterceptors } from './interceptors/workflow-interceptors.js';

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
    DurableMethods,
    WorkflowExplorer,
    FaultInjector,
    AbortWatcher,
    StepRunner,
    WorkflowInterceptors,
    TimerStore,
    TimerRunner,
    RepeatStore,
    RepeatRunner,
    BranchStore,
    BranchRunner,
    CallRunner,
    MergeRunner,
    CallStore,
    BranchMergeJob,
    LimitStore,
    LimitGate,
    FlowCalls,
    EventRecorder,
    AttributeRecorder,
    AttributeStore,
    LimitDeclarations,
    WorkflowLimits,
    SagaStore,
    CancelStore,
    RunCanceller,
    DeadlineEnforcer,
    StalledDeadlines,
    RollbackRunner,
    WorkflowExecutor,
    InPlaceStarts,
    PassSlots,
    UnservedRuns,
    WorkerHeartbeat,
    WorkflowWorker,
    WakeListener,
    WorkflowContext,
    WorkflowClient,
    Cleanup,
    ScheduledCleanup,
    ScheduleStore,
    ScheduleRegistry,
    ScheduleClient,
    ScheduleFirer,
    ScheduleTicker,
    ChronoForgeHealth,
  ],
  exports: [
    WorkflowClient,
    WorkflowLimits,
    WorkflowContext,
    ChronoForgeClock,
    ChronoForgeMetrics,
    ChronoForgeDatabase,
    WorkflowQueue,
    WorkflowWorker,
    ChronoForgeHealth,
    // NOTE: for the dashboard, which judges stale locks with the engine's own rule.
    WorkflowStore,
    // NOTE: for the dashboard's definition graph, which reads the registered workflows.
    WorkflowRegistry,
  ],
})
export class ChronoForgeModule extends ChronoForgeConfigurableModule {}
