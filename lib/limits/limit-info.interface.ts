import type { LimitDefinition } from '../options/limit-options.interface.js';

/**
 * What `client.limits.get()` / `list()` report about a named limit.
 *
 * @publicApi
 */
export interface LimitInfo {
  name: string;
  /** The definition in force: the runtime override if one is set, otherwise the declared one. */
  effective: LimitDefinition | null;
  /** From `forRoot({ limits })` (or a workflow's run-level limit), as the last booted process declared it. */
  declared: LimitDefinition | null;
  /** Set by `client.limits.set()`; `null` after `client.limits.reset()`. */
  override: LimitDefinition | null;
  /** Slots held now, per key. */
  holders: LimitHolder[];
  /** Runs waiting now, in the order they will be admitted. */
  waiting: LimitWaiter[];
}

/**
 * A slot held on a limit.
 *
 * @publicApi
 */
export interface LimitHolder {
  key: string;
  runId: string;
  /** The step log name holding the slot, or `'$run'` for a run-level limit. */
  holder: string;
  /** The pass holding it: `<worker id>/<job id>`. */
  owner: string | null;
  acquiredAt: Date | null;
}

/**
 * A run waiting on a limit.
 *
 * @publicApi
 */
export interface LimitWaiter {
  key: string;
  runId: string;
  holder: string;
  priority: number;
  queuedAt: Date;
}

/**
 * What a run waits on (`client.get(key).waitingOn`): the limit and key that refused it last.
 *
 * @publicApi
 */
export interface RunLimitWait {
  limit: string;
  key: string;
  /** The step log name that waits, or `'$run'` for a run-level limit. */
  holder: string;
  /** Waiters admitted before this one on that key. */
  ahead: number;
  /** When the run first waited on it. */
  since: Date;
  /** `waiting on limit <name>` (with the key when there is one). */
  reason: string;
}
