export { ChronoForgeDashboardModule } from './chrono-forge-dashboard.module.js';
export type {
  ChronoForgeDashboardOptions,
  DashboardHttpRequest,
} from './options/dashboard-options.interface.js';
export { CsrfTokenError } from '../web/csrf-token.error.js';
export { DashboardAccessDeniedError } from './http/dashboard-access-denied.error.js';
