export { ChronoForgeDashboardModule } from './chrono-forge-dashboard.module.js';
export type { ChronoForgeDashboardOptions } from './dashboard-options.interface.js';
export { CsrfTokenError } from './csrf-token.error.js';
export { DashboardAccessDeniedError } from './dashboard-access-denied.error.js';
