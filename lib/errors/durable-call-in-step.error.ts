import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A step body (a `@DurableStep()` method, `ctx.step()`, a `waitUntil`/`continueIf` check or a
 * `@Repeat` tick) called a durable call that halts or forks the run: a timer, a signal wait, a
 * spawn or a merge. A step body runs to completion inside one pass, so these calls belong in the
 * workflow method, between steps. The step fails at once and is not retried (a programming
 * error); nested `@DurableStep()` / `ctx.step()` calls stay plain calls.
 *
 * @publicApi
 */
export class DurableCallInStepError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_DURABLE_CALL_IN_STEP';
}
