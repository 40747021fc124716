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

/** How a value is encoded: superjson (step results, signal payloads) or plain JSON (inputs, state). */
type Encoding = 'superjson' | 'json';

/** Objects neither encoding can store: they would arrive as `{}` (or not deserialize at all). */
const OPAQUE: ReadonlyArray<[new (...args: never[]) => object, string]> = [
  [WeakMap, 'a WeakMap'],
  [WeakSet, 'a WeakSet'],
  [Promise, 'a Promise (await it first)'],
  [ArrayBuffer, 'an ArrayBuffer (store a typed array or a base64 string)'],
  [DataView, 'a DataView (store a typed array or a base64 string)'],
  [Number, 'a boxed Number (store the primitive)'],
  [String, 'a boxed String (store the primitive)'],
  [Boolean, 'a boxed Boolean (store the primitive)'],
];

/** Built-ins superjson round-trips but plain JSON alters (a Map or Set becomes `{}`). */
const NOT_JSON: ReadonlyArray<[new (...args: never[]) => object, string]> = [
  [Map, 'a Map, which JSON would store as {} (use Object.fromEntries(map) or [...map])'],
  [Set, 'a Set, which JSON would store as {} (use [...set])'],
  [RegExp, 'a RegExp, which JSON would store as {} (store its source)'],
  [Error, 'an Error, which JSON would store as {} (store its message)'],
];

/**
 * Why `value` itself (not its contents) cannot be stored unchanged in `encoding`, or `undefined`.
 * Stored unchanged means: read back, it is equal (`toEqual`) to what was written.
 */
function unstorableObject(obj: object, encoding: Encoding): string | undefined {
  for (const [type, what] of OPAQUE) if (obj instanceof type) return what;
  if (Buffer.isBuffer(obj)) return 'a Buffer (store buffer.toString("base64"))';
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'an invalid Date' : undefined;
  if (encoding === 'json') {
    for (const [type, what] of NOT_JSON) if (obj instanceof type) return what;
    if (ArrayBuffer.isView(obj)) return 'a typed array, which JSON would store as an object';
  }
  if (obj instanceof Float32Array || obj instanceof Float64Array) {
    // superjson stores a typed array's elements as JSON numbers: NaN and ±Infinity become null
    // (read back as 0), and -0 becomes 0.
    for (const x of obj) {
      if (!Number.isFinite(x) || Object.is(x, -0))
        return 'a float typed array holding NaN, ±Infinity or -0, which would be read back as 0';
    }
  }
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function' && !(encoding === 'superjson' && obj instanceof URL)) {
    return 'an object with a toJSON() method, which would be stored as what toJSON() returns (store that)';
  }
  return undefined;
}

/** Objects stored whole, whose properties are not walked (their contents are numbers or text). */
function isLeafObject(obj: object): boolean {
  return (
    obj instanceof Date ||
    obj instanceof RegExp ||
    obj instanceof Error ||
    obj instanceof URL ||
    ArrayBuffer.isView(obj)
  );
}

function assertStorable(value: unknown, path: string, seen: Set<object>, encoding: Encoding): void {
  const t = typeof value;
  if (t === 'function' || t === 'symbol') {
    throw new SerializationError(`Cannot store a ${t} at ${path}; return plain data from steps.`);
  }
  if (t === 'string') {
    const why = unstorableText(value as string);
    if (why) throw new SerializationError(`Cannot store the string at ${path}: it ${why}.`);
    return;
  }
  if (t === 'number' && encoding === 'json' && !Number.isFinite(value)) {
    throw new SerializationError(
      `Cannot store ${String(value)} at ${path}: JSON has no NaN or Infinity (it would be stored as null).`,
    );
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
  const why = unstorableObject(obj, encoding);
  if (why) throw new SerializationError(`Cannot store ${why} at ${path}.`);
  seen.add(obj);
  if (obj instanceof Map) {
    for (const [k, v] of obj) {
      assertStorable(k, `${path}.<key>`, seen, encoding);
      assertStorable(v, `${path}.get(${describeKey(k)})`, seen, encoding);
    }
  } else if (obj instanceof Set) {
    for (const v of obj) assertStorable(v, `${path}.<item>`, seen, encoding);
  } else if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      if (!(i in obj) || (encoding === 'json' && obj[i] === undefined)) {
        throw new SerializationError(
          `Cannot store ${i in obj ? 'undefined' : 'an empty slot'} at ${path}[${i}]: it would be stored as null.`,
        );
      }
      assertStorable(obj[i], `${path}[${i}]`, seen, encoding);
    }
  } else if (!isLeafObject(obj)) {
    for (const [k, v] of Object.entries(obj)) {
      const why = unstorableText(k);
      if (why) throw new SerializationError(`Cannot store a property name at ${path}: it ${why}.`);
      assertStorable(v, `${path}.${k}`, seen, encoding);
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
 * Whether `value` is stored as itself by both encodings: `null`, a boolean, a finite number other
 * than -0, or a string PostgreSQL can store.
 */
function isPlainPrimitive(value: unknown): boolean {
  switch (typeof value) {
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'string':
      return !UNSTORABLE_TEXT.test(value);
    default:
      return value === null;
  }
}

/**
 * Serializes a step result or signal payload. `Date`, `Map`, `Set`, `BigInt`, `RegExp`, `URL`,
 * typed arrays, `undefined`, `NaN`, `±Infinity`, `-0` and `Error` round-trip (superjson); class
 * instances are stored as plain objects of their own enumerable properties. Anything that would not
 * read back equal raises `SerializationError`: functions, symbols, circular structures, nesting
 * deeper than {@link MAX_VALUE_DEPTH}, strings PostgreSQL cannot store (NUL, lone surrogates),
 * sparse arrays, invalid Dates, `Buffer`, `ArrayBuffer`, `DataView`, `WeakMap`, `WeakSet`,
 * `Promise` and other objects with a `toJSON()` method.
 */
export function serializeValue(value: unknown, what = 'result'): StoredValue {
  // NOTE: a JSON primitive is stored as itself (superjson's envelope of it has no meta): no walk.
  if (isPlainPrimitive(value)) return { json: value };
  storableOrThrow(what, () => assertStorable(value, what, new Set(), 'superjson'));
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
  if (stored.meta === undefined && isPlainPrimitive(stored.json)) return stored.json as T;
  return SuperJSON.deserialize<T>(stored as Parameters<typeof SuperJSON.deserialize>[0]);
}

/**
 * Checks that `value` is plain JSON (what durable state and inputs hold) and returns its encoded
 * size in bytes. Refused with `SerializationError`, since JSON would alter them: everything
 * {@link serializeValue} refuses, plus `Map`, `Set`, `RegExp`, `Error`, typed arrays, `BigInt`,
 * `NaN`, `±Infinity` and `undefined` array elements. Accepted with JSON's usual meaning: a valid
 * `Date` is stored as its ISO string, an object property holding `undefined` is left out, `-0` is
 * stored as `0`, and a class instance as a plain object of its own enumerable properties.
 */
export function jsonByteSize(value: unknown, what: string): number {
  storableOrThrow(what, () => assertStorable(value, what, new Set(), 'json'));
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
