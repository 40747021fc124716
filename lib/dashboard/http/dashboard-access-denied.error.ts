import { ChronoForgeError } from '../../errors/chrono-forge.error.js';

/**
 * The dashboard's guard refused the request (or no guard was configured: the dashboard denies
 * every request by default); the dashboard answers 403.
 *
 * @publicApi
 */
export class DashboardAccessDeniedError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_DASHBOARD_ACCESS_DENIED';
}
