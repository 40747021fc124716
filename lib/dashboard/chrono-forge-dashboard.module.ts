import {
  type CanActivate,
  Controller,
  type DynamicModule,
  Module,
  type Type,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { CsrfTokens } from '../web/csrf-tokens.js';
import { DashboardActions } from './actions/dashboard-actions.service.js';
import { DashboardExceptionFilter } from './http/dashboard-exception.filter.js';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ChronoForgeDashboardOptions,
} from './options/dashboard-options.interface.js';
import { resolveDashboardOptions } from './options/resolve-dashboard-options.js';
import { DashboardActionsController } from './http/dashboard-actions.controller.js';
import { DashboardController } from './http/dashboard.controller.js';
import { OpsController } from './http/ops.controller.js';
import { AnalyticsController } from './http/analytics.controller.js';
import { WorkflowGraphController } from './http/workflow-graph.controller.js';
import { BulkCancelController } from './http/bulk-cancel.controller.js';
import { WorkflowGraphs } from './data/workflow-graphs.js';
import { WorkflowMetadataAccessor } from '../discovery/workflow-metadata.accessor.js';
import { RunDetailController } from './http/run-detail.controller.js';
import { ViewContexts } from './http/view-contexts.js';
import { CsrfGuard, DenyAllGuard } from './http/dashboard.guards.js';
import { RunListStore } from '../inspection/run-list.store.js';
import { RunDetailStore } from '../inspection/run-detail.store.js';
import { RunPagesStore } from '../inspection/run-pages.store.js';
import { AnalyticsStore } from '../inspection/analytics.store.js';

/** Subclasses of the dashboard's controllers mounted at `path`, behind `guard`, rendering errors as HTML. */
function mountedControllers(path: string, guard: Type<CanActivate> | CanActivate): Type<object>[] {
  class ChronoForgeDashboardController extends DashboardController {}
  class ChronoForgeRunDetailController extends RunDetailController {}
  class ChronoForgeDashboardActionsController extends DashboardActionsController {}
  class ChronoForgeOpsController extends OpsController {}
  class ChronoForgeAnalyticsController extends AnalyticsController {}
  class ChronoForgeWorkflowGraphController extends WorkflowGraphController {}
  class ChronoForgeBulkCancelController extends BulkCancelController {}
  const mounted = [
    ChronoForgeBulkCancelController,
    ChronoForgeOpsController,
    ChronoForgeAnalyticsController,
    ChronoForgeWorkflowGraphController,
    ChronoForgeDashboardController,
    ChronoForgeRunDetailController,
    ChronoForgeDashboardActionsController,
  ];
  for (const ctrl of mounted) {
    Controller(path)(ctrl);
    UseGuards(guard)(ctrl);
    UseFilters(DashboardExceptionFilter)(ctrl);
  }
  return mounted;
}

/**
 * A server-rendered operator UI for ChronoForge, served by your own Nest HTTP server (Express or Fastify):
 * overview, analytics (runs over time, durations, top errors, waits), runs, a workflow's definition graph, run detail (steps, errors, waits, repeats, branches, compensations), branch
 * view, stranded runs, schedules, limits, and retry / resume / cancel (with reason) / unlock /
 * bulk-retry / bulk-cancel / schedule pause, resume and trigger actions (POST forms with CSRF tokens).
 *
 * Access is denied (403) unless `guard` allows the request: without a guard nobody gets in.
 * Needs `ChronoForgeModule` (global) in the same application.
 *
 * @example
 * ```ts
 * @Injectable()
 * class AdminOnly implements CanActivate {
 *   canActivate(ctx: ExecutionContext) {
 *     return ctx.switchToHttp().getRequest().user?.isAdmin === true;
 *   }
 * }
 *
 * @Module({ imports: [ChronoForgeModule.forRoot(options), ChronoForgeDashboardModule.forRoot({ guard: AdminOnly })] })
 * class AppModule {} // → http://localhost:3000/chronoforge
 * ```
 * @publicApi
 */
@Module({})
export class ChronoForgeDashboardModule {
  /** The dashboard at `options.path` (default `/chronoforge`), behind `options.guard`. */
  static forRoot(options: ChronoForgeDashboardOptions = {}): DynamicModule {
    const resolved = resolveDashboardOptions(options);
    return {
      module: ChronoForgeDashboardModule,
      controllers: mountedControllers(resolved.path, options.guard ?? DenyAllGuard),
      providers: [
        { provide: CHRONO_FORGE_DASHBOARD_OPTIONS, useValue: resolved },
        RunListStore,
        RunDetailStore,
        RunPagesStore,
        AnalyticsStore,
        WorkflowMetadataAccessor,
        WorkflowGraphs,
        DashboardActions,
        {
          provide: CsrfTokens,
          useFactory: () => new CsrfTokens(resolved.csrfSecret, resolved.csrfSubject),
        },
        ViewContexts,
        CsrfGuard,
        DenyAllGuard,
        DashboardExceptionFilter,
      ],
    };
  }
}
