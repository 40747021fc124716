import { assertSignalPayloadType, toSignalPayload } from '../definitions/signal-payloads.js';
import type { WaitForSignalOptions } from '../options/workflow-options.interface.js';
import type { RunScope } from '../run/run-scope.js';
import type { TimerRunner } from '../timers/timer.runner.js';
import { assertUserName } from '../util/names.util.js';

/**
 * `ctx.waitForSignal(name, options)` in the pass `scope`: a `payload` DTO is checked against the
 * workflow's `@Workflow({ signals })` before the call takes its name (step `signal$<name>`), and a
 * declared signal's payload is returned as an instance of its DTO (also on replay).
 */
export function waitForSignal<T>(
  timers: TimerRunner,
  scope: RunScope,
  name: string,
  options: WaitForSignalOptions<T>,
): Promise<T> {
  assertSignalPayloadType(scope.definition, name, options?.payload);
  assertUserName(name, 'signal step');
  const step = scope.nextStepName(`signal$${name}`);
  return scope.track(async () => {
    const payload = await timers.waitForSignal(scope, step, name, options);
    return toSignalPayload(scope.definition, name, payload) as T;
  });
}
