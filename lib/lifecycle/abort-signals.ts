import { AsyncLocalStorage } from 'node:async_hooks';
import type { RunScope } from '../run/run-scope.js';

const passes = new WeakMap<RunScope, AbortController>();

/** The signal of the step attempt running in the current async call chain. */
export const attemptSignal = new AsyncLocalStorage<AbortSignal>();

/**
 * The controller of a pass: aborted when the pass loses its run (cancel, takeover) or the run's
 * deadline passes. Every step attempt's signal follows it.
 */
export function passController(scope: RunScope): AbortController {
  let controller = passes.get(scope);
  if (!controller) passes.set(scope, (controller = new AbortController()));
  return controller;
}

/** `ctx.abortSignal`: the running step attempt's signal, else the pass's. */
export function currentAbortSignal(scope: RunScope): AbortSignal {
  return attemptSignal.getStore() ?? passController(scope).signal;
}

/** Whether `err` is the reason the pass of `scope` aborted with (not a failure of the step). */
export function isPassAbort(scope: RunScope, err: unknown): boolean {
  const signal = passes.get(scope)?.signal;
  return signal?.aborted === true && signal.reason === err;
}
