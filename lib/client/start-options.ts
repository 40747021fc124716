import type { EntityManager } from 'typeorm';
import type { Duration } from '../util/duration.util.js';
import type { SearchAttributes } from '../definitions/search-attributes.js';

/** Options of `WorkflowClient.start()`. @publicApi */
export interface StartOptions<I = unknown> {
  /** Idempotency key: starting the same workflow with the same key returns the existing run. */
  key: string;
  /** The workflow's input (validated against its `input` DTO when it has one). */
  input?: I;
  /**
   * Start inside your own transaction (an EntityManager from `dataSource.transaction(...)` on the
   * engine's database): the run exists, and is woken, only if that transaction commits.
   */
  manager?: EntityManager;
  /**
   * Deadline of the run, counted from now: past it the run is cancelled or failed (see
   * `@Workflow({ timeout, onTimeout })`, whose `timeout` this overrides).
   */
  timeout?: Duration;
  /**
   * Lower runs first (0, the default, to 2 097 152): overrides `@Workflow({ priority })` for this
   * run, for its queue job and its places among the waiters of limits.
   */
  priority?: number;
  /**
   * The new run's first search attributes (see `ctx.setAttributes`), checked before anything is
   * stored (`SearchAttributeError`). Ignored when the key finds an existing run.
   */
  attributes?: SearchAttributes;
}

/**
 * Options of the typed `WorkflowClient.start(Class, 'method', options)`: `input` is required
 * unless the method's parameter accepts `undefined` (an optional parameter, or none).
 * @publicApi
 */
export type TypedStartOptions<I> = Omit<StartOptions<I>, 'input'> &
  (undefined extends I ? { input?: I } : { input: I });

export type {
  WorkflowInputOf,
  WorkflowMethodOf,
  WorkflowResultOf,
} from '../definitions/workflow-method-types.js';

/** Options that identify a run when a key alone is ambiguous. @publicApi */
export interface RunSelector {
  /** Workflow name, needed when several workflows use the same key. */
  workflow?: string;
}
