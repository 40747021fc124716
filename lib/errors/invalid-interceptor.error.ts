import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A workflow interceptor given to `forRoot({ interceptors })` or `@UseWorkflowInterceptors()` is
 * not usable (thrown at bootstrap): not a class, a class with neither `interceptPass()` nor
 * `interceptStep()`, a request-scoped provider, or a class dependency injection could not create.
 *
 * @publicApi
 */
export class InvalidInterceptorError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INVALID_INTERCEPTOR';
}
