import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';
import { assertUserName } from '../util/names.util.js';

/** Options of `ctx.call()` and `ctx.startChild()`. @publicApi */
export interface CallOptions {
  /**
   * Names the call (its step is `call$<key>` / `child$<key>`, its child's key
   * `<parentKey>$<parentWorkflow>$$call$<key>`). Repeated calls of one name are numbered by the
   * order the calls are made (`#2`, `#3`, …).
   * @default the child workflow's name
   */
  key?: string;
}

/**
 * A child run started by `ctx.startChild()`. `result()` waits for it durably (step `join$<key>`):
 * its result once it completed, `ChildWorkflowFailedError` when it failed or was cancelled.
 * @publicApi
 */
export interface ChildHandle<R = unknown> {
  /** The child run's key. */
  readonly key: string;
  /** The child run's id. */
  readonly id: string;
  /** The child's workflow name. */
  readonly workflow: string;
  /** Waits (durably, the run halts meanwhile) until the child ended; returns its result. */
  result(): Promise<R>;
}

/** The checked `key` option of a call (the name of its step). */
export function callLabel(options: CallOptions | undefined, workflow: string): string {
  if (options !== undefined && (options === null || typeof options !== 'object'))
    throw new InvalidOptionsError(
      `call()/startChild() options must be an object such as { key: 'capture' }, got ${describeValue(options)}.`,
    );
  const key = options?.key;
  if (key === undefined) return workflow;
  assertUserName(key, 'Call key');
  return key;
}

/**
 * The key of the child of call step `stepName`: `<parentKey>$<parentWorkflow>$$<stepName>`. The
 * empty segment (no branch is named `''`) keeps it apart from every branch child's key.
 */
export function callChildKey(run: { job_name: string; key: string }, stepName: string): string {
  return `${run.key}$${run.job_name}$$${stepName}`;
}
