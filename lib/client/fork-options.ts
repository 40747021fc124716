import type { WorkflowDefinition } from '../definitions/workflow.registry.js';
import {
  assertNewRunKey,
  assertOptionalText,
  assertRunKey,
} from '../definitions/client-arguments.js';
import { checkNewRun } from '../definitions/input-validation.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';
import type { ForkOptions } from './run-history.interface.js';

/** Longest accepted `fromStep` (a step log's name, e.g. `step$charge#2`). */
const MAX_FROM_STEP_LENGTH = 512;

const FORK_KEYS = new Set(['fromStep', 'newKey', 'input']);

/** `client.fork`'s options, each field read once (a caller's object may have getters). */
export interface CheckedFork {
  fromStep: string;
  newKey: string | undefined;
  /** `undefined`: the fork keeps the source run's input. */
  input: unknown;
}

/**
 * Checks the arguments of `client.fork(key, options)` before anything is read or stored: the
 * source key (see `assertRunKey`), an options object with only `fromStep`, `newKey` and `input`,
 * `fromStep` as storable text, and `newKey` as a new run's key (as `client.start` checks it).
 * Throws `InvalidOptionsError` naming the bad field.
 */
export function checkForkArguments(key: unknown, options: unknown): CheckedFork {
  assertRunKey(key);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionsError(
      `fork() needs options { fromStep, newKey?, input? }, got ${describeValue(options)}.`,
    );
  }
  const unknown = Object.keys(options).filter((k) => !FORK_KEYS.has(k));
  if (unknown.length > 0) {
    throw new InvalidOptionsError(
      `fork() options take fromStep, newKey and input; unknown: ${unknown.map((k) => JSON.stringify(k)).join(', ')}.`,
    );
  }
  const { fromStep, newKey, input } = options as ForkOptions;
  if (typeof fromStep !== 'string' || fromStep === '')
    throw new InvalidOptionsError(
      `fork needs \`fromStep\`, the name of a step of the run, got ${describeValue(fromStep)}.`,
    );
  assertOptionalText(fromStep, 'fork() fromStep', MAX_FROM_STEP_LENGTH);
  if (newKey !== undefined) assertNewRunKey(newKey);
  return { fromStep, newKey, input };
}

/**
 * Checks the input given to a fork as `client.start` checks a new run's input: storable, at most
 * `MAX_INPUT_BYTES` encoded, and valid for the workflow's input DTO when this application registers
 * the workflow. No input (`undefined`): the source run's input, checked when it started.
 */
export async function checkForkInput(
  workflow: string,
  def: Pick<WorkflowDefinition, 'name' | 'inputType'> | undefined,
  newKey: string,
  input: unknown,
): Promise<void> {
  if (input === undefined) return;
  await checkNewRun(def ?? { name: workflow, inputType: undefined }, newKey, input);
}
