import type { CanActivate, Type } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';

/** DI token of the resolved {@link ChronoForgeDashboardOptions}. */
export const CHRONO_FORGE_DASHBOARD_OPTIONS = Symbol('CHRONO_FORGE_DASHBOARD_OPTIONS');

/**
 * The HTTP request handed to `csrfSubject`: Express's `Request` or Fastify's `FastifyRequest`
 * (declare your own request type on the parameter to read what your authentication added).
 *
 * @publicApi
 */
export interface DashboardHttpRequest {
  readonly headers: IncomingHttpHeaders;
}

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
   * Secret of the CSRF cookie and tokens. Defaults to a random secret per process, so forms
   * rendered by one process are rejected by another: set it when several processes serve the
   * dashboard. Dashboards mounted twice on one host share the cookie: give them the same secret.
   */
  csrfSecret?: string;
  /**
   * Who the request is signed in as (a user or session id your authentication put on the request,
   * e.g. `(req: Request) => req.user?.id`). CSRF tokens are then bound to it as well as to the
   * browser's server-issued nonce, so a token minted for one user never validates for another,
   * even when a page on another port or subdomain of the host plants its own valid CSRF cookie
   * in an operator's browser. Without it, tokens are bound to the nonce only.
   */
  csrfSubject?(request: DashboardHttpRequest): string | null | undefined;
  /** Rows per page of the run and child lists. @default 50 */
  pageSize?: number;
}

/** Options after defaults. */
export interface ResolvedDashboardOptions {
  path: string;
  csrfSecret: Buffer;
  csrfSubject?: (request: DashboardHttpRequest) => string | null | undefined;
  pageSize: number;
}
