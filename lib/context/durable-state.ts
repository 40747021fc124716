import { StateValueError } from '../errors/state-value.error.js';
import type { RunScope } from '../run/run-scope.js';
import { jsonByteSize, unstorableText } from '../util/serialization.util.js';

/** Largest encoded size of one durable state value. */
export const MAX_STATE_VALUE_BYTES = 16 * 1024;

/** A JSON value, what durable state holds. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Durable per-run key/value state: a change is stored with the pass's next checkpoint (the step,
 * timer or signal write that follows it) and at the end of the pass (also when it halts or fails).
 *
 * @publicApi
 */
export interface DurableState {
  /** A copy of the stored value (change it with `set`), or `undefined` when never set. */
  get<T extends JsonValue = JsonValue>(key: string): T | undefined;
  /** Stores a JSON value (at most 16 KB encoded). */
  set(key: string, value: JsonValue): void;
  /** Stores the value only if the key is absent; returns whether it did. */
  setOnce(key: string, value: JsonValue): boolean;
}

/** The {@link DurableState} of the pass `scope`: validated writes, copies on read. */
export function durableState(scope: RunScope): DurableState {
  const validate = (key: string, value: JsonValue): void => {
    if (typeof key !== 'string' || key === '')
      throw new StateValueError('State keys must be non-empty strings.');
    // A key PostgreSQL cannot store would make every later write of the run fail.
    const why = unstorableText(key);
    if (why) throw new StateValueError(`State key ${JSON.stringify(key)} ${why}.`);
    let size: number;
    try {
      size = jsonByteSize(value, `state "${key}"`);
    } catch (err) {
      throw new StateValueError((err as Error).message, { cause: err });
    }
    if (size > MAX_STATE_VALUE_BYTES) {
      throw new StateValueError(
        `State value "${key}" is too large (${size} bytes, max ${MAX_STATE_VALUE_BYTES}).`,
      );
    }
  };
  return {
    // A copy: changed in place, it would reach the next write unvalidated (e.g. a NUL).
    get: <T extends JsonValue>(key: string) =>
      (Object.hasOwn(scope.context, key) ? jsonCopy(scope.context[key]) : undefined) as
        T | undefined,
    set: (key, value) => {
      validate(key, value);
      scope.context[key] = jsonCopy(value);
      scope.stateChanged();
    },
    setOnce: (key, value) => {
      if (Object.hasOwn(scope.context, key)) return false;
      validate(key, value);
      scope.context[key] = jsonCopy(value);
      scope.stateChanged();
      return true;
    },
  };
}

/** A deep copy of a JSON value (what durable state holds). */
function jsonCopy(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}
