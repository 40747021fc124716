import SuperJSON from 'superjson';
import { SerializationError } from '../errors/serialization.error.js';

/** The stored form of a step result: superjson's `{ json, meta }` envelope. */
export interface StoredValue {
  json: unknown;
  meta?: unknown;
}

function assertStorable(value: unknown, path: string, seen: Set<object>): void {
  const t = typeof value;
  if (t === 'function' || t === 'symbol') {
    throw new SerializationError(`Cannot store a ${t} at ${path}; return plain data from steps.`);
  }
  if (value === null || t !== 'object') return;
  const obj = value as object;
  if (seen.has(obj)) {
    throw new SerializationError(`Cannot store a circular structure (at ${path}).`);
  }
  seen.add(obj);
  if (obj instanceof Map) {
    for (const [k, v] of obj) {
      assertStorable(k, `${path}.<key>`, seen);
      assertStorable(v, `${path}.get(${String(k)})`, seen);
    }
  } else if (obj instanceof Set) {
    for (const v of obj) assertStorable(v, `${path}.<item>`, seen);
  } else if (Array.isArray(obj)) {
    obj.forEach((v, i) => assertStorable(v, `${path}[${i}]`, seen));
  } else if (!(obj instanceof Date) && !(obj instanceof RegExp) && !(obj instanceof Error)) {
    for (const [k, v] of Object.entries(obj)) assertStorable(v, `${path}.${k}`, seen);
  }
  seen.delete(obj);
}

/**
 * Serializes a step result. `Date`, `Map`, `Set`, `BigInt`, `RegExp`, `undefined` and `Error`
 * round-trip (superjson); functions, symbols and circular structures raise `SerializationError`.
 */
export function serializeValue(value: unknown): StoredValue {
  assertStorable(value, 'result', new Set());
  try {
    const { json, meta } = SuperJSON.serialize(value);
    return meta === undefined ? { json } : { json, meta };
  } catch (err) {
    throw new SerializationError(`Cannot serialize value: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Restores a value written by {@link serializeValue}. */
export function deserializeValue<T = unknown>(stored: StoredValue | null | undefined): T {
  if (stored === null || stored === undefined) return undefined as T;
  return SuperJSON.deserialize<T>(stored as Parameters<typeof SuperJSON.deserialize>[0]);
}

/**
 * Checks that `value` is plain JSON (what durable state and inputs hold) and returns its encoded
 * size in bytes.
 */
export function jsonByteSize(value: unknown, what: string): number {
  assertStorable(value, what, new Set());
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new SerializationError(`${what} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined)
    throw new SerializationError(`${what} is not JSON (got ${typeof value}).`);
  return Buffer.byteLength(text, 'utf8');
}
