import { Injectable } from '@nestjs/common';
import { NotInWorkflowError } from '../errors/not-in-workflow.error.js';
import { StateValueError } from '../errors/state-value.error.js';
import type { StepOptions } from '../interfaces/workflow-options.interface.js';
import { jsonByteSize } from '../util/serialization.util.js';
import { type RunScope, runStorage } from './run-scope.js';
import { StepRunner } from './step.runner.js';

/** Largest encoded size of one durable state value. */
export const MAX_STATE_VALUE_BYTES = 16 * 1024;

/** A JSON value, what durable state holds. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Durable per-run key/value state, saved once per pass (also when the pass halts or fails).
 *
 * @publicApi
 */
export interface DurableState {
  /** The stored value, or `undefined` when the key was never set. */
  get<T extends JsonValue = JsonValue>(key: string): T | undefined;
  /** Stores a JSON value (at most 16 KB encoded). */
  set(key: string, value: JsonValue): void;
  /** Stores the value only if the key is absent; returns whether it did. */
  setOnce(key: string, value: JsonValue): boolean;
}

/**
 * The current run, seen from workflow code. Inject it anywhere; it reads the run of the current
 * call chain from AsyncLocalStorage and throws `NotInWorkflowError` outside a run.
 *
 * @publicApi
 */
@Injectable()
export class WorkflowContext {
  constructor(private readonly steps: StepRunner) {}

  private scope(): RunScope {
    const scope = runStorage.getStore();
    if (!scope) {
      throw new NotInWorkflowError('WorkflowContext is only available while a workflow method runs.');
    }
    return scope;
  }

  /** The run's key (unique per workflow name). */
  get key(): string {
    return this.scope().run.key;
  }

  /** The run's database id. */
  get workflowId(): string {
    return this.scope().run.id;
  }

  /** The stored input, as given to `start`. */
  get input(): unknown {
    return this.scope().run.input;
  }

  /** 1-based attempt of the workflow as a whole (grows when an uncaught error is retried). */
  get attempt(): number {
    return this.scope().run.attempt + 1;
  }

  /**
   * Runs `fn` as the durable step `step$<name>`: its result is stored on first completion and
   * returned on replay. Use it for anything non-deterministic (ids, clocks, randomness, I/O).
   */
  step<T>(name: string, fn: () => T | Promise<T>, options: Omit<StepOptions, 'name'> = {}): Promise<T> {
    this.scope();
    return this.steps.run(name, fn, options);
  }

  /** Durable key/value state of the run. */
  get state(): DurableState {
    const scope = this.scope();
    const validate = (key: string, value: JsonValue): void => {
      if (typeof key !== 'string' || key === '') throw new StateValueError('State keys must be non-empty strings.');
      let size: number;
      try {
        size = jsonByteSize(value, `state "${key}"`);
      } catch (err) {
        throw new StateValueError((err as Error).message, { cause: err });
      }
      if (size > MAX_STATE_VALUE_BYTES) {
        throw new StateValueError(`State value "${key}" is too large (${size} bytes, max ${MAX_STATE_VALUE_BYTES}).`);
      }
    };
    return {
      get: <T extends JsonValue>(key: string) => scope.context[key] as T | undefined,
      set: (key, value) => {
        validate(key, value);
        scope.context[key] = JSON.parse(JSON.stringify(value)) as JsonValue;
        scope.contextDirty = true;
      },
      setOnce: (key, value) => {
        if (Object.prototype.hasOwnProperty.call(scope.context, key)) return false;
        validate(key, value);
        scope.context[key] = JSON.parse(JSON.stringify(value)) as JsonValue;
        scope.contextDirty = true;
        return true;
      },
    };
  }
}
