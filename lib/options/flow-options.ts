import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { describeValue } from '../util/describe.util.js';
import { toMs } from '../util/duration.util.js';
import type {
  SingletonMode,
  WorkflowDebounce,
  WorkflowSingleton,
} from './limit-options.interface.js';
import { limitKey, type RunLimit, toStoredLimit } from './limit-options.js';

/** Highest priority value (BullMQ's largest job priority); 0 is the default and runs first. */
export const MAX_PRIORITY = 2_097_152;
const MODES: readonly SingletonMode[] = ['skip', 'queue', 'cancelPrevious'];
const MAX_DEBOUNCE_MS = 366 * 24 * 3_600_000;

/** Run-level start rules of a workflow (`@Workflow({ singleton, debounce, priority })`). */
export interface RunFlow {
  singleton?: { mode: SingletonMode; key?: (input: never) => string | number };
  debounce?: { periodMs: number; key?: (input: never) => string | number };
  priority: number;
}

function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

/** Checks a priority (`@Workflow({ priority })`, `start(…, { priority })`). */
export function toPriority(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PRIORITY)
    fail(
      `The priority of ${where} must be an integer from 0 (first, the default) to ${MAX_PRIORITY}, got ${describeValue(value)}.`,
    );
  return value;
}

/** Validates `@Workflow({ singleton, debounce, priority })` of `where` (at discovery). */
export function toRunFlow(
  options: { singleton?: WorkflowSingleton; debounce?: WorkflowDebounce; priority?: number },
  where: string,
): RunFlow {
  const flow: RunFlow = { priority: 0 };
  const checkKey = (key: unknown, what: string) => {
    if (key !== undefined && typeof key !== 'function')
      fail(`${what} of ${where} must be a function of the input, got ${describeValue(key)}.`);
  };
  if (options.singleton !== undefined) {
    const { mode, key } = (options.singleton ?? {}) as Partial<WorkflowSingleton>;
    if (!MODES.includes(mode as SingletonMode))
      fail(
        `singleton.mode of ${where} must be one of ${MODES.join(', ')}, got ${describeValue(mode)}.`,
      );
    checkKey(key, 'singleton.key');
    flow.singleton = { mode: mode as SingletonMode, key };
  }
  if (options.debounce !== undefined) {
    if (flow.singleton)
      fail(`${where} has both singleton and debounce; a workflow takes one of them.`);
    const { period, key } = (options.debounce ?? {}) as Partial<WorkflowDebounce>;
    const periodMs = toMs(period as never, `debounce.period of ${where}`);
    if (periodMs < 1 || periodMs > MAX_DEBOUNCE_MS)
      fail(
        `debounce.period of ${where} must be from 1 ms to 366 days, got ${describeValue(period)}.`,
      );
    checkKey(key, 'debounce.key');
    flow.debounce = { periodMs, key };
  }
  if (options.priority !== undefined) flow.priority = toPriority(options.priority, where);
  return flow;
}

/** The singleton slot of a `mode: 'queue'` workflow: a semaphore of 1 per key, held for life. */
export function singletonLimit(name: string, flow: RunFlow): RunLimit | undefined {
  if (flow.singleton?.mode !== 'queue') return undefined;
  const limitName = `workflow:${name}:singleton`;
  return {
    name: limitName,
    stored: toStoredLimit(limitName, { concurrency: 1 }),
    key: flow.singleton.key,
  };
}

/** The flow key a run stores (`flow_key`), from its validated input; `null` without one. */
export function flowKeyOf(flow: RunFlow, input: unknown): string | null {
  const rule = flow.singleton ?? flow.debounce;
  if (!rule) return null;
  return limitKey(rule.key, [input], flow.singleton ? 'the singleton' : 'the debounce');
}
