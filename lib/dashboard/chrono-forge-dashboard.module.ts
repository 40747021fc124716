import {
  type CanActivate,
  Controller,
  type DynamicModule,
  Module,
  type Type,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { CsrfTokens } from './csrf-tokens.js';
import { DashboardActions } from './dashboard-actions.service.js';
import { DashboardExceptionFilter } from './dashboard-exception.filter.js';
import {
  CHRONO_FORGE_DASHBOARD_OPTIONS,
  type ChronoForgeDashboardOptions,
  type ResolvedDashboardOptions,
} from './dashboard-options.interface.js';
import { DashboardActionsController } from './dashboard-actions.controller.js';
import { DashboardController } from './dashboard.controller.js';
import { ViewContexts } from './dashboard-request.util.js';
import { CsrfGuard, DenyAllGuard } from './dashboard.guards.js';
import { DashboardStore } from './dashboard.store.js';
import { RunDetailStore } from './run-detail.store.js';

const PATH = /^\/?[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*\/?$/;

/** Validates the options and applies the defaults. */
export function resolveDashboardOptions(
  options: ChronoForgeDashboardOptions,
): ResolvedDashboardOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionsError(
      'ChronoForgeDashboardModule.forRoot() options must be an object.',
    );
  }
  const path = options.path ?? '/chronoforge';
  if (typeof path !== 'string' || !PATH.test(path)) {
    throw new InvalidOptionsError(
      `Dashboard path must look like '/chronoforge' or '/ops/workflows', got ${JSON.stringify(path)}.`,
    );
  }
  const pageSize = options.pageSize ?? 50;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500) {
    throw new InvalidOptionsError('Dashboard pageSize must be an integer in 1..500.');
  }
  const guard = options.guard;
  if (
    guard !== undefined &&
    typeof guard !== 'function' &&
    typeof guard?.canActivate !== 'function'
  ) {
    throw new InvalidOptionsError('Dashboard guard must be a CanActivate class or instance.');
  }
  if (
    options.csrfSecret !== undefined &&
    (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < 16)
  ) {
    throw new InvalidOptionsError(
      'Dashboard csrfSecret must be a string of at least 16 characters.',
    );
  }
  return {
    path: `/${path.replace(/^\/+|\/+$/g, '')}`,
    pageSize,
    csrfSecret: options.csrfSecret ? Buffer.from(options.csrfSecret) : randomBytes(32),
  };
}

/** Subclasses of the dashboard's controllers mounted at `path`, behind `guard`, rendering errors as HTML. */
function mountedControllers(path: string, guard: Type<CanActivate> | CanActivate): Type<object>[] {
  class ChronoForgeDashboardController extends DashboardController {}
  class ChronoForgeDashboardActionsController extends DashboardActionsController {}
  const mounted = [ChronoForgeDashboardController, ChronoForgeDashboardActionsController];
  for (const ctrl of mounted) {
    Controller(path)(ctrl);
    UseGuards(guard)(ctrl);
    UseFilters(DashboardExceptionFilter)(ctrl);
  }
  return mounted;
}

/**
 * A server-rendered operator UI for ChronoForge, served by your own Nest HTTP server (Express):
 * overview, runs, run detail (steps, errors, waits, repeats, branches), branch view, stranded
 * runs, and retry / resume / cancel / unlock / bulk-retry actions (POST forms with CSRF tokens).
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
        DashboardStore,
        RunDetailStore,
        DashboardActions,
        CsrfTokens,
        ViewContexts,
        CsrfGuard,
        DenyAllGuard,
        DashboardExceptionFilter,
      ],
    };
  }
}
