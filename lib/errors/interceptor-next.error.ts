import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A workflow interceptor broke the `next()` contract: it called `next()` a second time (the call
 * is refused: the pass or the step body never runs twice), or it returned without calling it.
 * A step attempt fails with this error without retry (retrying cannot fix the interceptor); a
 * pass that never called `next()` fails the run, and a second call in a recorded pass is logged.
 *
 * @publicApi
 */
export class InterceptorNextError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_INTERCEPTOR_NEXT';

  /** `interceptor`'s `method` called `next()` twice, or after it returned. */
  static twice(interceptor: string, method: string): InterceptorNextError {
    return new InterceptorNextError(
      `${interceptor}.${method}() called next() more than once (or after it returned); the call ` +
        'was refused. Call next() exactly once, before returning, and return what it gives.',
    );
  }

  /** `interceptor`'s `method` returned without calling `next()`. */
  static never(interceptor: string, method: string): InterceptorNextError {
    return new InterceptorNextError(
      `${interceptor}.${method}() returned without calling next(); an interceptor cannot skip ` +
        'the work it wraps. Call next() exactly once (throw to fail the attempt instead).',
    );
  }
}
