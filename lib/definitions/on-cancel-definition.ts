import { InvalidOnCancelError } from '../errors/invalid-on-cancel.error.js';
import type { CancelInfo, OnCancelOptions } from '../options/on-cancel-options.interface.js';
import type { StepOptions } from '../options/workflow-options.interface.js';
import { toRetryStrategy } from '../retry/retry-policy.js';
import { describeValue } from '../util/describe.util.js';
import { toTimeoutMs } from './lifecycle-options.js';

type Method = (...args: unknown[]) => unknown;

/** A workflow's `@OnCancel()` method, ready to run as the durable step `$oncancel$`. */
export interface OnCancelDefinition {
  /** Where it is declared (`Class#method`), for messages. */
  where: string;
  /** Calls the method with the provider as `this`, the workflow's input and the cancel's info. */
  call(input: unknown, info: CancelInfo): unknown;
  /** Options of its durable step: `retry` and `timeout`. */
  options: StepOptions;
}

/** An `@OnCancel()` method found on a provider, before it is given to its workflows. */
export interface FoundOnCancel {
  definition: OnCancelDefinition;
  /** The workflows it names; `undefined`: every workflow of the provider. */
  workflows: string[] | undefined;
}

/**
 * Checks `@OnCancel()` on `where` (method `methodName` of `instance`) and builds it. `decorated`:
 * the method also carries a workflow or durable-method decorator, which it may not.
 */
export function toOnCancel(
  instance: object,
  methodName: string,
  options: OnCancelOptions,
  where: string,
  decorated: boolean,
): FoundOnCancel {
  if (decorated)
    throw new InvalidOnCancelError(
      `@OnCancel on ${where}: the method is also a @Workflow, @DurableStep, @Repeat or @Branch; give the cleanup a method of its own.`,
    );
  if (typeof options !== 'object' || options === null)
    throw new InvalidOnCancelError(`@OnCancel options of ${where} must be an object.`);
  const { workflow } = options;
  const names = workflow === undefined ? undefined : [workflow].flat();
  if (names !== undefined && (names.length === 0 || names.some((n) => typeof n !== 'string')))
    throw new InvalidOnCancelError(
      `@OnCancel workflow of ${where} must be a workflow name or a non-empty array of names; got ${describeValue(workflow)}.`,
    );
  let retry;
  try {
    retry = toRetryStrategy(options.retry, `@OnCancel retry of ${where}`);
    toTimeoutMs(options.timeout, `@OnCancel timeout of ${where}`);
  } catch (err) {
    throw new InvalidOnCancelError((err as Error).message, { cause: err });
  }
  const step: StepOptions = { timeout: options.timeout };
  if (retry !== undefined) step.retry = retry;
  const methods = instance as Record<string, Method>;
  return {
    definition: {
      where,
      // NOTE: looked up at call time, as a step's compensation is.
      call: (input, info) => methods[methodName].call(instance, input, info),
      options: step,
    },
    workflows: names,
  };
}

/**
 * Gives each `@OnCancel()` method of one provider to the workflows it serves (`workflows`: the
 * provider's, by name). Throws `InvalidOnCancelError` for a provider without workflows, a name
 * that is not one of them, or two methods for one workflow. Returns the cleanup of each workflow.
 */
export function assignOnCancel(
  provider: string,
  workflows: string[],
  found: FoundOnCancel[],
): Map<string, OnCancelDefinition> {
  const byWorkflow = new Map<string, OnCancelDefinition>();
  for (const { definition, workflows: named } of found) {
    if (workflows.length === 0)
      throw new InvalidOnCancelError(
        `@OnCancel on ${definition.where}: ${provider} declares no @Workflow to clean up after.`,
      );
    for (const name of named ?? workflows) {
      if (!workflows.includes(name))
        throw new InvalidOnCancelError(
          `@OnCancel on ${definition.where} names workflow "${name}", which is not a @Workflow of ${provider} (${workflows.map((w) => `"${w}"`).join(', ')}).`,
        );
      const other = byWorkflow.get(name);
      if (other)
        throw new InvalidOnCancelError(
          `Workflow "${name}" has two @OnCancel methods, ${other.where} and ${definition.where}; keep one (or name the workflows of each).`,
        );
      byWorkflow.set(name, definition);
    }
  }
  return byWorkflow;
}
