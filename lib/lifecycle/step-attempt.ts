import { StepTimeoutError } from '../errors/step-timeout.error.js';
import type { RunScope } from '../run/run-scope.js';
import { AttemptAbort, attemptSignal, passController } from './abort-signals.js';
import type { AbortWatcher } from './abort-watcher.js';

/**
 * Runs one attempt of step `stepName`'s body with its own abort signal (`ctx.abortSignal` inside
 * the body), which fires when the pass loses its run (see `AbortWatcher`) or, with `timeoutMs`,
 * when the attempt runs longer: the attempt is then abandoned — it rejects with
 * `StepTimeoutError` at once, whatever the body still does, and its result is never recorded.
 */
export async function runAttempt<T>(
  scope: RunScope,
  stepName: string,
  timeoutMs: number | undefined,
  watcher: AbortWatcher,
  body: () => T | Promise<T>,
): Promise<T> {
  const attempt = new AttemptAbort(passController(scope).signal);
  const unwatch = watcher.watch(scope);
  let timer: NodeJS.Timeout | undefined;
  try {
    let running: Promise<T>;
    try {
      running = Promise.resolve(attemptSignal.run(attempt, body));
    } catch (err) {
      running = Promise.reject(err);
    }
    if (timeoutMs === undefined) return await running;
    // NOTE: the abandoned body may still reject later; that must not be an unhandled rejection.
    running.catch(() => undefined);
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new StepTimeoutError(stepName, timeoutMs);
        attempt.abort(err);
        reject(err);
      }, timeoutMs);
    });
    return await Promise.race([running, timedOut]);
  } finally {
    clearTimeout(timer);
    attempt.end();
    unwatch();
  }
}
