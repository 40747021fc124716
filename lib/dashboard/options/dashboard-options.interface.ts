import type { CanActivate, Type } from '@nestjs/common';

/** DI token of the resolved {@link ChronoForgeDashboardOptions}. */
export const CHRONO_FORGE_DASHBOARD_OPTIONS = Symbol('CHRONO_FORGE_DASHBOARD_OPTIONS');

/**
 * Options of `ChronoForgeDashboardModule.forRoot()`.
 *
 * @publicApi
 */
export interface ChronoForgeDashboardOptions {
  /** URL path the dashboard is served under (the app's global prefix applies). @default '/chronoforge' */
  path?: string;
  /**
   * Decides who may use the dashboard: a `CanActivate` class (resolved by Nest, so it may inject
   * providers visible to the dashboard module) or instance. Without one, every request gets 403.
   */
  guard?: Type<CanActivate> | CanActivate;
  /**
   * Secret of the CSRF tokens. Defaults to a random secret per process, so forms rendered by one
   * process are rejected by another: set it when several processes serve the dashboard.
   */
  csrfSecret?: string;
  /** Rows per page of the run and child lists. @default 50 */
  pageSize?: number;
}

/** Options after defaults. */
export interface ResolvedDashboardOptions {
  path: string;
  csrfSecret: Buffer;
  pageSize: number;
}
