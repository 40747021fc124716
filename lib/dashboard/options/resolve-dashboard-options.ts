import { randomBytes } from 'node:crypto';
import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type {
  ChronoForgeDashboardOptions,
  ResolvedDashboardOptions,
} from './dashboard-options.interface.js';

/**
 * The CSRF secret of every dashboard of this process that sets none: one per process, so mounts
 * sharing a host also share the CSRF cookie (its name and path are the same under TLS).
 */
const PROCESS_SECRET = randomBytes(32);

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
  if (options.csrfSubject !== undefined && typeof options.csrfSubject !== 'function') {
    throw new InvalidOptionsError('Dashboard csrfSubject must be a function of the request.');
  }
  return {
    path: `/${path.replace(/^\/+|\/+$/g, '')}`,
    pageSize,
    csrfSecret: options.csrfSecret ? Buffer.from(options.csrfSecret) : PROCESS_SECRET,
    csrfSubject: options.csrfSubject?.bind(options),
  };
}
