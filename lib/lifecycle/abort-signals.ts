import { AsyncLocalStorage } from 'node:async_hooks';
import type { RunScope } from '../run/run-scope.js';

const passes = new WeakMap<RunScope, AbortController>();

/**
 * The abort state of one step attempt (`ctx.abortSignal` inside its body): aborted by the attempt's
 * timeout or, until the attempt ends, when its pass's signal aborts (the first reason wins). The
 * `AbortSignal` itself, and its listener on the pass's signal, are made only when something reads
 * {@link signal}: creating a signal and a once-listener costs tens of µs, most bodies never read
 * it, and a no-op step's whole overhead is a few hundred µs (issue #22).
 */
export class AttemptAbort {
  private controller: AbortController | undefined;
  private settled: { reason: unknown } | undefined;
  private ended = false;
  private readonly follow = (): void => this.abort(this.pass.reason);

  constructor(private readonly pass: AbortSignal) {}

  /** Whether the attempt was aborted (its timeout, or its pass while it ran). */
  get aborted(): boolean {
    return this.settle() !== undefined;
  }

  /** Why it was aborted; `undefined` while it was not. */
  get reason(): unknown {
    return this.settle()?.reason;
  }

  /** The attempt's `AbortSignal` (made on first read, already aborted when the attempt is). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      const settled = this.settle();
      if (settled) this.controller.abort(settled.reason);
      else if (!this.ended) this.pass.addEventListener('abort', this.follow, { once: true });
    }
    return this.controller.signal;
  }

  /** Aborts the attempt with `reason`, unless it was aborted already. */
  abort(reason: unknown): void {
    const settled = this.settle() ?? (this.settled = { reason });
    // NOTE: a made signal aborts with the first reason (its pass's, when this is `follow`).
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(settled.reason);
  }

  /** The attempt ended: its pass's abort no longer aborts it. */
  end(): void {
    this.settle();
    this.ended = true;
    if (this.controller) this.pass.removeEventListener('abort', this.follow);
  }

  /** The abort that happened first, if any: a pass that aborted while the attempt ran counts. */
  private settle(): { reason: unknown } | undefined {
    if (!this.settled && !this.ended && this.pass.aborted)
      this.settled = { reason: this.pass.reason };
    return this.settled;
  }
}

/** The abort state of the step attempt running in the current async call chain. */
export const attemptSignal = new AsyncLocalStorage<AttemptAbort>();

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
  return attemptSignal.getStore()?.signal ?? passController(scope).signal;
}

/** Whether `err` is the reason the pass of `scope` aborted with (not a failure of the step). */
export function isPassAbort(scope: RunScope, err: unknown): boolean {
  const signal = passes.get(scope)?.signal;
  return signal?.aborted === true && signal.reason === err;
}
