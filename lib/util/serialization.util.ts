import SuperJSON from 'superjson';
import { SerializationError } from '../errors/serialization.error.js';

/** The stored form of a step result: superjson's `{ json, meta }` envelope. */
export interface StoredValue {
  json: unknown;
  meta?: unknown;
}

/** Deepest nesting of arrays and objects a stored value may have. */
export const MAX_VALUE_DEPTH = 1_000;

/** A NUL character or a lone UTF-16 surrogate: text PostgreSQL cannot store (text and jsonb). */
const UNSTORABLE_TEXT =
  /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * `text` made storable for diagnostics (error messages, backtraces), where altering beats losing
 * the record: NUL becomes the visible escape `\\u0000`, a lone surrogate U+FFFD.
 */
export function storableText(text: string): string {
  if (!UNSTORABLE_TEXT.test(text)) return text;
  return text.replace(new RegExp(UNSTORABLE_TEXT.source, 'g'), (c) =>
    c === '\u0000' ? '\\u0000' : '\ufffd',
  );
}

/**
 * Why PostgreSQL cannot store `text` (a NUL character or a lone UTF-16 surrogate), or `undefined`.
 * Such strings are rejected rather than altered: the driver would turn a lone surrogate into U+FFFD,
 * so two different keys would name the same run.
 */
export function unstorableText(text: string): string | undefined {
  const match = UNSTORABLE_TEXT.exec(text);
  if (!match) return undefined;
  return match[0] === '\u0000'
    ? 'contains a NUL character (\\u0000)'
    : `contains a lone UTF-16 surrogate (\\u${match[0].charCodeAt(0).toString(16)})`;
}

function assertStorable(value: unknown, path: string, seen: Set<object>): void {
  const t = typeof value;
  if (t === 'function' || t === 'symbol') {
    throw new SerializationError(`Cannot store a ${t} at ${path}; return plain data from steps.`);
  }
  if (t === 'string') {
    const why = unstorableText(value as string);
    if (why) throw new SerializationError(`Cannot store the string at ${path}: it ${why}.`);
    return;
  }
  if (value === null || t !== 'object') return;
  const obj = value as object;
  if (seen.has(obj)) {
    throw new SerializationError(`Cannot store a circular structure (at ${path}).`);
  }
  if (seen.size >= MAX_VALUE_DEPTH) {
    throw new SerializationError(
      `Cannot store a structure nested deeper than ${MAX_VALUE_DEPTH} levels (at ${path.slice(0, 80)}…).`,
    );
  }
  seen.add(obj);
  if (obj instanceof Map) {
    for (const [k, v] of obj) {
      assertStorable(k, `${path}.<key>`, seen);
      assertStorable(v, `${path}.get(${describeKey(k)})`, seen);
    }
  } else if (obj instanceof Set) {
    for (const v of obj) assertStorable(v, `${path}.<item>`, seen);
  } else if (Array.isArray(obj)) {
    obj.forEach((v, i) => assertStorable(v, `${path}[${i}]`, seen));
  } else if (!(obj instanceof Date) && !(obj instanceof RegExp) && !(obj instanceof Error)) {
    for (const [k, v] of Object.entries(obj)) {
      const why = unstorableText(k);
      if (why) throw new SerializationError(`Cannot store a property name at ${path}: it ${why}.`);
      assertStorable(v, `${path}.${k}`, seen);
    }
  }
  seen.delete(obj);
}

function describeKey(key: unknown): string {
  try {
    return String(key);
  } catch {
    return typeof key;
  }
}

/**
 * Runs `check` and turns anything but a `SerializationError` it throws (a getter or proxy trap
 * that throws, a stack overflow) into one.
 */
function storableOrThrow(what: string, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof SerializationError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new SerializationError(`Cannot read ${what}: ${message}`, { cause: err });
  }
}

/**
 * Serializes a step result. `Date`, `Map`, `Set`, `BigInt`, `RegExp`, `undefined` and `Error`
 * round-trip (superjson); functions, symbols, circular structures, nesting deeper than
 * {@link MAX_VALUE_DEPTH} and strings PostgreSQL cannot store (NUL, lone surrogates) raise
 * `SerializationError`.
 */
export function serializeValue(value: unknown, what = 'result'): StoredValue {
  storableOrThrow(what, () => assertStorable(value, what, new Set()));
  try {
    const { json, meta } = SuperJSON.serialize(value);
    return meta === undefined ? { json } : { json, meta };
  } catch (err) {
    throw new SerializationError(
      `Cannot serialize ${what === 'result' ? 'value' : what}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
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
  storableOrThrow(what, () => assertStorable(value, what, new Set()));
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
