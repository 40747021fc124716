import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type {
  CompensateOn,
  StepCompensation,
  WorkflowOptions,
} from '../options/workflow-options.interface.js';
import { describeValue } from '../util/describe.util.js';
import { type Duration, toMaxDurationMs } from '../util/duration.util.js';

type Method = (...args: unknown[]) => unknown;

const COMPENSATE_ON: readonly CompensateOn[] = ['failed', 'stalled', 'cancelled'];

/** Default of `@Workflow({ compensateOn })`. */
export const DEFAULT_COMPENSATE_ON: readonly CompensateOn[] = ['failed', 'stalled'];

/** A workflow's lifecycle options, validated at discovery. */
export interface WorkflowLifecycle {
  compensateOn: readonly CompensateOn[];
  /** Deadline of a run, from its start; `undefined`: none. */
  timeoutMs?: number;
  onTimeout: 'cancel' | 'fail';
}

/** Validates the lifecycle options of `@Workflow()` on `where` and applies their defaults. */
export function workflowLifecycle(options: WorkflowOptions, where: string): WorkflowLifecycle {
  const on = options.compensateOn ?? DEFAULT_COMPENSATE_ON;
  if (!Array.isArray(on) || on.some((o) => !COMPENSATE_ON.includes(o))) {
    throw new InvalidOptionsError(
      `@Workflow compensateOn of ${where} must be an array of ${COMPENSATE_ON.map((o) => `'${o}'`).join(', ')}; got ${describeValue(on)}.`,
    );
  }
  const onTimeout = options.onTimeout ?? 'cancel';
  if (onTimeout !== 'cancel' && onTimeout !== 'fail') {
    throw new InvalidOptionsError(
      `@Workflow onTimeout of ${where} must be 'cancel' or 'fail'; got ${describeValue(onTimeout)}.`,
    );
  }
  const timeoutMs = toTimeoutMs(options.timeout, `timeout of ${where}`);
  return { compensateOn: [...new Set(on)], timeoutMs, onTimeout };
}

/** A run or step timeout in ms (positive, at most 1000 years); `undefined` stays `undefined`. */
export function toTimeoutMs(value: Duration | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = toMaxDurationMs(value, what);
  if (ms <= 0) throw new InvalidOptionsError(`Invalid ${what}: it must be longer than 0 ms.`);
  return ms;
}

/**
 * The compensation of `@DurableStep({ compensate })` on `where` as a function to call with the
 * provider as `this`, the step's arguments and its result; `undefined` when there is none.
 */
export function stepCompensation(
  instance: object,
  compensate: StepCompensation | undefined,
  where: string,
): Method | undefined {
  if (compensate === undefined) return undefined;
  if (typeof compensate === 'function') return compensate as Method;
  const methods = instance as Record<string, unknown>;
  if (typeof compensate !== 'string' || typeof methods[compensate] !== 'function') {
    throw new InvalidOptionsError(
      `@DurableStep compensate of ${where} must be a function or the name of a method of the same provider; got ${describeValue(compensate)}.`,
    );
  }
  // NOTE: looked up at call time, so a compensation that is itself a wrapped method is the wrapper.
  return (...args: unknown[]) => (methods[compensate] as Method).apply(instance, args);
}
