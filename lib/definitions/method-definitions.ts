import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type {
  BranchOptions,
  RepeatMetadata,
  StepOptions,
  WorkflowOptions,
} from '../options/workflow-options.interface.js';
import { type RunLimits, toRunLimits, toStepLimits } from '../options/limit-options.js';
import { type RunFlow, singletonLimit, toRunFlow } from '../options/flow-options.js';
import type { StepLimit } from '../options/limit-options.interface.js';
import { type RetryStrategy, toRetryStrategy } from '../retry/retry-policy.js';
import { toMaxDurationMs, toMs } from '../util/duration.util.js';
import { assertUserName } from '../util/names.util.js';
import { stepCompensation, toTimeoutMs, workflowLifecycle } from './lifecycle-options.js';
import { RepeatSchedule } from './repeat-schedule.js';
import { toSignalPayloadTypes } from './signal-payloads.js';
import type { WorkflowDefinition } from './workflow.registry.js';

/** A `@DurableStep()` method, ready to run: name checked, retry policies built. */
export interface StepDefinition {
  name: string;
  /** The decorator's options, with `retry` and `compensateRetry` as built strategies. */
  options: StepOptions;
  /** The step's limits (`@DurableStep({ limit })`); their keys come from each call's arguments. */
  limits?: StepLimit[];
  /**
   * The step's compensation (`@DurableStep({ compensate })`), to call with the provider as `this`,
   * the step's arguments and its recorded result.
   */
  compensate?: Method;
}

/** A `@Repeat()` method, ready to run: its options parsed once, at bootstrap. */
export interface RepeatDefinition extends Omit<RepeatMetadata, 'name' | 'timeout' | 'retry'> {
  name: string;
  /** A tick later than this past its schedule is skipped. */
  timeoutMs: number;
  /** Retry policy of one tick; `undefined` inherits (see `resolveStepRetry`). */
  retry?: RetryStrategy;
}

/** A `@Branch()` method, ready to run. */
export interface BranchDefinition {
  name: string;
  automerge: boolean;
}

/** A decorated provider method and the durable call its decorators make of it. */
export interface DurableMethodDefinition {
  instance: object;
  methodName: string;
  step?: StepDefinition;
  repeat?: RepeatDefinition;
  branch?: BranchDefinition;
}

type Method = (...args: unknown[]) => unknown;

/**
 * Checks the `@Workflow()` options of `target#methodName` and builds its definition; `body` is the
 * method as declared (on the prototype), never a durable wrapper on the instance.
 */
export function toWorkflowDefinition(
  target: Type,
  instance: object,
  methodName: string,
  body: Method,
  options: WorkflowOptions,
  defaultMaxDurationMs: number,
): WorkflowDefinition {
  const where = `${target.name}#${methodName}`;
  const name = options.name ?? `${target.name}.${methodName}`;
  assertUserName(name, `Workflow (${where})`);
  const inputType = options.input;
  if (inputType !== undefined && typeof inputType !== 'function') {
    throw new InvalidOptionsError(`@Workflow input of ${where} must be a class.`);
  }
  const toInput = (input: unknown): unknown =>
    inputType && input !== null && typeof input === 'object'
      ? plainToInstance(inputType, input)
      : input;
  const version = options.version;
  if (
    version !== undefined &&
    (typeof version !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(version))
  )
    throw new InvalidOptionsError(
      `@Workflow version of ${where} must be 1 to 100 printable characters without spaces, e.g. '2026-12-03'.`,
    );
  return {
    name,
    target,
    methodName,
    version,
    maxDurationMs:
      options.maxDuration !== undefined
        ? toMaxDurationMs(options.maxDuration, `maxDuration of ${where}`)
        : defaultMaxDurationMs,
    retry: toRetryStrategy(options.retry, `retry of ${where}`),
    inputType,
    signalTypes: toSignalPayloadTypes(options.signals, where),
    ...runLimitsAndFlow(name, options, where),
    ...workflowLifecycle(options, where),
    toInput,
    invoke: async (input) => body.call(instance, toInput(input)),
  };
}

/** Checks `@DurableStep()` options of `where` (a method of `instance`) and builds its definition. */
export function toStepDefinition(
  instance: object,
  methodName: string,
  options: StepOptions,
  where: string,
): StepDefinition {
  const name = options.name ?? methodName;
  assertUserName(name, `Step (${where})`);
  const retry = toRetryStrategy(options.retry, `retry of ${where}`);
  const compensateRetry = toRetryStrategy(options.compensateRetry, `compensateRetry of ${where}`);
  toTimeoutMs(options.timeout, `timeout of ${where}`);
  const compensate = stepCompensation(instance, options.compensate, where);
  const limits = options.limit === undefined ? undefined : toStepLimits(options.limit, where);
  const built: StepOptions = { ...options };
  if (retry !== undefined) built.retry = retry;
  if (compensateRetry !== undefined) built.compensateRetry = compensateRetry;
  return { name, options: built, limits, compensate };
}

/** Checks `@Repeat()` options of `where` (a method of `instance`) and parses them. */
export function toRepeatDefinition(
  instance: object,
  methodName: string,
  meta: RepeatMetadata,
  where: string,
): RepeatDefinition {
  const name = meta.name ?? methodName;
  assertUserName(name, `Repeat (${where})`);
  new RepeatSchedule(meta.every, 0, meta.timeZone);
  const timeoutMs = toMs(meta.timeout ?? '1h', `timeout of ${where}`);
  const retry = toRetryStrategy(meta.retry, `retry of ${where}`);
  if (meta.onError !== undefined && meta.onError !== 'continue' && meta.onError !== 'fail') {
    throw new InvalidOptionsError(`@Repeat onError of ${where} must be 'continue' or 'fail'.`);
  }
  if (
    typeof meta.till === 'string' &&
    typeof (instance as Record<string, unknown>)[meta.till] !== 'function'
  ) {
    throw new InvalidOptionsError(
      `@Repeat till of ${where} names "${meta.till}", which is not a method of the provider.`,
    );
  }
  if (
    meta.startAt !== undefined &&
    (!(meta.startAt instanceof Date) || Number.isNaN(meta.startAt.getTime()))
  ) {
    throw new InvalidOptionsError(`@Repeat startAt of ${where} must be a valid Date.`);
  }
  const { every, till, startAt, onError, timeZone } = meta;
  return { name, every, till, startAt, onError, timeZone, timeoutMs, retry };
}

/** Checks `@Branch()` options of `where` and builds its definition. */
export function toBranchDefinition(
  methodName: string,
  options: BranchOptions,
  where: string,
): BranchDefinition {
  const name = options.name ?? methodName;
  assertUserName(name, `Branch (${where})`);
  if (name.includes(','))
    throw new InvalidOptionsError(`Branch name of ${where} contains ",", the merge separator.`);
  return { name, automerge: options.automerge === true };
}

/** The run-level limits and start rules of `@Workflow()` options. */
function runLimitsAndFlow(
  name: string,
  options: WorkflowOptions,
  where: string,
): { limits?: RunLimits; flow: RunFlow } {
  const flow = toRunFlow(options, where);
  const limits = toRunLimits(name, options, where);
  const singleton = singletonLimit(name, flow);
  return { limits: singleton ? { ...limits, singleton } : limits, flow };
}
