import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SerializationError } from '../../lib/errors/serialization.error.js';
import {
  deserializeValue,
  jsonByteSize,
  serializeValue,
  type StoredValue,
} from '../../lib/util/serialization.util.js';

/** What a plain-JSON value (input, durable state) reads back as, by the documented rules. */
function asStoredJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return value === 0 ? 0 : value;
  if (Array.isArray(value)) return value.map(asStoredJson);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, asStoredJson(v)]),
  );
}

const refusal = (fn: () => unknown): unknown => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
};

/** Any value, built-ins and odd shapes included. */
const anyValue = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  maxDepth: 3,
});

describe('plain JSON values (inputs, durable state): stored unchanged or refused', () => {
  it.each([
    ['a Map', { m: new Map([['a', 1]]) }, /Cannot store a Map, which JSON would store as \{\}/],
    ['a Set', { s: new Set([1]) }, /Cannot store a Set, which JSON would store as \{\}/],
    ['NaN', { n: NaN }, /Cannot store NaN at input\.n: JSON has no NaN or Infinity/],
    ['Infinity', [Infinity], /Cannot store Infinity at input\[0\]/],
    ['-Infinity', -Infinity, /Cannot store -Infinity at input:/],
    ['an undefined array element', [1, undefined], /Cannot store undefined at input\[1\]/],
    ['a sparse array', [1, , 3], /Cannot store an empty slot at input\[1\]/],
    ['a RegExp', { r: /x/ }, /Cannot store a RegExp/],
    ['an Error', { e: new Error('x') }, /Cannot store an Error/],
    ['a typed array', { t: new Uint8Array([1]) }, /Cannot store a typed array/],
    ['a Buffer', { b: Buffer.from('x') }, /Cannot store a Buffer/],
    ['an invalid Date', { d: new Date(NaN) }, /Cannot store an invalid Date at input\.d/],
    ['a toJSON object', { u: new URL('http://x/') }, /toJSON\(\)/],
    ['a boxed number', { n: new Number(1) }, /boxed Number/],
  ])('should refuse %s with a SerializationError naming its path', (_what, value, message) => {
    const err = refusal(() => jsonByteSize(value, 'input'));
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as Error).message).toMatch(message);
  });

  it('should accept a valid Date (stored as its ISO string), -0 and an undefined property', () => {
    const value = { at: new Date(0), zero: -0, missing: undefined };
    expect(jsonByteSize(value, 'input')).toBe(
      Buffer.byteLength('{"at":"1970-01-01T00:00:00.000Z","zero":0}'),
    );
  });

  it('should either refuse any value or store it so that it reads back as documented', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const err = refusal(() => jsonByteSize(value, 'input'));
        if (err !== undefined) {
          expect(err).toBeInstanceOf(SerializationError);
          return;
        }
        const text = JSON.stringify(value);
        expect(JSON.parse(text)).toStrictEqual(asStoredJson(value));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('superjson values (step results, signal payloads): stored unchanged or refused', () => {
  it.each([
    ['a Buffer', Buffer.from('x'), /Cannot store a Buffer/],
    ['a WeakMap', new WeakMap(), /Cannot store a WeakMap/],
    ['an ArrayBuffer', new ArrayBuffer(2), /Cannot store an ArrayBuffer/],
    ['a sparse array', [1, , 3], /Cannot store an empty slot at result\[1\]/],
    ['an invalid Date', new Date(NaN), /Cannot store an invalid Date/],
    ['a Float64Array holding -0', Float64Array.from([1, -0]), /float typed array/],
    ['a Float32Array holding NaN', Float32Array.from([NaN]), /float typed array/],
    ['a Float64Array holding Infinity', Float64Array.from([Infinity]), /float typed array/],
  ])('should refuse %s instead of storing what would not read back', (_what, value, message) => {
    const err = refusal(() => serializeValue(value));
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as Error).message).toMatch(message);
  });

  it('should round-trip NaN, ±Infinity, -0, typed arrays and URLs', () => {
    const value = { n: NaN, i: [Infinity, -Infinity], z: -0, t: new Int16Array([-2, 7]) };
    const back = deserializeValue(JSON.parse(JSON.stringify(serializeValue(value))) as StoredValue);
    expect(back).toStrictEqual(value);
    const url = deserializeValue<URL>(serializeValue(new URL('http://x/a?b=1')));
    expect(url.href).toBe('http://x/a?b=1');
  });

  it('should either refuse any value or read it back equal', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const err = refusal(() => serializeValue(value));
        if (err !== undefined) {
          expect(err).toBeInstanceOf(SerializationError);
          return;
        }
        const stored = JSON.parse(JSON.stringify(serializeValue(value))) as StoredValue;
        expect(deserializeValue(stored)).toEqual(value);
      }),
      { numRuns: 2000 },
    );
  });
});
