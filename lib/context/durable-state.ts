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
  /**
   * A copy of the stored value, or `fallback` when the key was never set (chrono_forge's
   * `fetch`): a stored `null` is returned as `null`. The fallback is returned as given, not stored.
   */
  fetch<T extends JsonValue = JsonValue>(key: string, fallback: T): T;
  /** Whether the key was set (also to `null`). */
  has(key: string): boolean;
  /** Stores a JSON value (at most 16 KB encoded). */
  set(key: string, value: JsonValue): void;
  /** Stores the value only if the key is absent; returns whether it did. */
  setOnce(key: string, value: JsonValue): boolean;
  /**
   * Stores every own key of `values` as `set` would, all or nothing: every entry is checked first,
   * and one refused entry (`StateValueError`) leaves the state unchanged.
   */
  merge(values: Record<string, JsonValue>): void;
  /**
   * Stores the entries of `values` whose key is absent, all or nothing (entries whose key is
   * present are skipped unchecked); returns the keys it stored.
   */
  mergeOnce(values: Record<string, JsonValue>): string[];
}

/** The {@link DurableState} of the pass `scope`: validated writes, copies on read. */
export function durableState(scope: RunScope): DurableState {
  const { context } = scope;
  const has = (key: string): boolean => Object.hasOwn(context, key);
  const store = (entries: Array<[string, JsonValue]>): void => {
    for (const [key, value] of entries) context[key] = value;
    if (entries.length > 0) scope.stateChanged();
  };
  return {
    // A copy: changed in place, it would reach the next write unvalidated (e.g. a NUL).
    get: <T extends JsonValue>(key: string) =>
      (has(key) ? jsonCopy(context[key]) : undefined) as T | undefined,
    fetch: <T extends JsonValue>(key: string, fallback: T) =>
      (has(key) ? jsonCopy(context[key]) : fallback) as T,
    has,
    set: (key, value) => store([checked(key, value)]),
    setOnce: (key, value) => {
      if (has(key)) return false;
      store([checked(key, value)]);
      return true;
    },
    merge: (values) => store(entriesOf(values, 'merge').map(([k, v]) => checked(k, v))),
    mergeOnce: (values) => {
      const absent = entriesOf(values, 'mergeOnce').filter(([key]) => !has(key));
      store(absent.map(([k, v]) => checked(k, v)));
      return absent.map(([key]) => key);
    },
  };
}

/** `[key, copy of value]` once `key` and `value` are known to be storable state. */
function checked(key: string, value: JsonValue): [string, JsonValue] {
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
  return [key, jsonCopy(value)];
}

/** The own enumerable entries of a plain object, each read once (a throwing getter is refused). */
function entriesOf(values: unknown, method: string): Array<[string, JsonValue]> {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new StateValueError(`state.${method}() takes an object of key/value pairs.`);
  }
  // A Map, Set, Date, … has no own keys to store: taken as an object it would store nothing.
  const tag = Object.prototype.toString.call(values);
  if (tag !== '[object Object]') {
    throw new StateValueError(
      `state.${method}() takes a plain object of key/value pairs, got ${tag.slice(8, -1)} (a Map: Object.fromEntries(map)).`,
    );
  }
  try {
    return Object.keys(values).map((key) => [key, (values as Record<string, JsonValue>)[key]]);
  } catch (err) {
    throw new StateValueError(
      `state.${method}() could not read its argument: ${(err as Error)?.message}`,
      { cause: err },
    );
  }
}

/** A deep copy of a JSON value (what durable state holds). */
function jsonCopy(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}
