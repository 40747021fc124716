import type { StepOptions } from '../options/workflow-options.interface.js';
import type { RunScope } from '../run/run-scope.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';

/** Prefix of the step log of a compensation: `$compensate$<step name>`. */
export const COMPENSATION_PREFIX = '$compensate$';

/** The compensation of one completed step, bound to the step's arguments and recorded result. */
export interface PendingCompensation {
  /** Step name of the compensated step (`step$charge#2`). */
  stepName: string;
  /** Calls the compensation. */
  run: () => unknown;
  /** Options of the compensation's own durable step. */
  options: StepOptions;
}

/** A step's compensation before it is bound to the step's result. */
export type CompensationCall = (result: unknown) => unknown;

const registered = new WeakMap<RunScope, Map<string, PendingCompensation>>();

/**
 * Registers the compensation of step `stepName`, which completed (now or in an earlier pass, then
 * replayed) in the pass of `scope` with `result`. Every pass replays the workflow from the top, so
 * a pass knows the compensation of every completed step it reached.
 */
export function noteCompensation(
  scope: RunScope,
  stepName: string,
  call: CompensationCall,
  result: unknown,
  step: StepOptions,
): void {
  let map = registered.get(scope);
  if (!map) registered.set(scope, (map = new Map()));
  const options: StepOptions = {
    retry: step.compensateRetry ?? step.retry,
    transactional: step.transactional,
    isolation: step.isolation,
    timeout: step.timeout,
    // The step's limit (its keys computed from the step's arguments) gates its compensation too.
    limit: step.limit,
  };
  map.set(stepName, { stepName, run: () => call(result), options });
}

/** The compensations registered in the pass of `scope`, by step name. */
export function compensationsOf(scope: RunScope): ReadonlyMap<string, PendingCompensation> {
  return registered.get(scope) ?? new Map();
}

/** The `compensate` option of `ctx.step()` / `ctx.transaction()` step `name`, checked. */
export function compensationOf(
  name: string,
  options: { compensate?: unknown },
): CompensationCall | undefined {
  const { compensate } = options;
  if (compensate !== undefined && typeof compensate !== 'function')
    throw new InvalidOptionsError(`The compensate option of step "${name}" must be a function.`);
  return compensate as CompensationCall | undefined;
}
