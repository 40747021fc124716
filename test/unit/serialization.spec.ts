import fc from 'fast-check';
import SuperJSON from 'superjson';
import { describe, expect, it } from 'vitest';
import { SerializationError } from '../../lib/errors/serialization.error.js';
import {
  deserializeValue,
  jsonByteSize,
  MAX_VALUE_DEPTH,
  serializeValue,
  type StoredValue,
  unstorableText,
} from '../../lib/util/serialization.util.js';

const roundTrip = <T>(value: T): T =>
  deserializeValue<T>(JSON.parse(JSON.stringify(serializeValue(value))) as StoredValue);

/** superjson refuses the keys `__proto__`, `constructor` and `prototype` (see the tests below). */
const withoutGuardedKeys = (value: unknown): boolean =>
  !/"(__proto__|constructor|prototype)":/.test(JSON.stringify(value));

describe('serializeValue() / deserializeValue()', () => {
  it('should round-trip plain JSON without a meta field', () => {
    const value = { a: 1, b: 'two', c: [true, null, { d: 4.5 }] };
    const stored = serializeValue(value);
    expect(stored).toEqual({ json: value });
    expect('meta' in stored).toBe(false);
    expect(roundTrip(value)).toEqual(value);
  });

  it("should store a primitive as superjson's envelope of it, and read back what superjson reads", () => {
    // The primitives' fast path (issue #22) must match superjson exactly, edge values included.
    const values = [
      0,
      -0,
      1.5,
      NaN,
      Infinity,
      -Infinity,
      '',
      'a',
      'x\u0000',
      '\ud800',
      true,
      false,
      null,
    ];
    for (const value of values) {
      let stored: StoredValue | undefined;
      try {
        stored = serializeValue(value);
      } catch (err) {
        expect(err).toBeInstanceOf(SerializationError);
        continue;
      }
      const { json, meta } = SuperJSON.serialize(value);
      expect(stored).toEqual(meta === undefined ? { json } : { json, meta });
      expect(Object.is(roundTrip(value), value)).toBe(true);
    }
    expect(() => serializeValue('x\u0000')).toThrow(SerializationError);
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.string(), fc.boolean(), fc.constant(null)), (value) => {
        const back = roundTrip(value);
        expect(Object.is(back, value)).toBe(true);
      }),
    );
  });

  it('should round-trip a Date, including through a JSON string', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const back = roundTrip({ at });
    expect(back.at).toBeInstanceOf(Date);
    expect(back.at.getTime()).toBe(at.getTime());
    expect(serializeValue(at).meta).toBeDefined();
  });

  it('should round-trip a Map with non-string keys', () => {
    const map = new Map<unknown, unknown>([
      ['a', 1],
      [2, { b: [3] }],
    ]);
    const back = roundTrip(map);
    expect(back).toBeInstanceOf(Map);
    expect(back).toEqual(map);
    expect(back.get(2)).toEqual({ b: [3] });
  });

  it('should round-trip a Set', () => {
    const set = new Set([1, 'x', 3]);
    const back = roundTrip({ set });
    expect(back.set).toBeInstanceOf(Set);
    expect([...back.set]).toEqual([1, 'x', 3]);
  });

  it('should round-trip a BigInt beyond Number.MAX_SAFE_INTEGER', () => {
    const big = 2n ** 64n + 1n;
    expect(roundTrip(big)).toBe(big);
    expect(roundTrip({ n: -5n })).toEqual({ n: -5n });
  });

  it('should round-trip undefined, RegExp and nested Date/Map/Set/BigInt mixtures', () => {
    expect(roundTrip(undefined)).toBeUndefined();
    expect(roundTrip({ u: undefined })).toEqual({ u: undefined });
    const re = roundTrip(/ab+c/gi);
    expect(re).toBeInstanceOf(RegExp);
    expect(re.source).toBe('ab+c');
    expect(re.flags).toBe('gi');
    const mixed = {
      list: [new Date(0), new Set([new Map([['k', 1n]])])],
    };
    expect(roundTrip(mixed)).toEqual(mixed);
  });

  it('should round-trip an Error as an Error with its message', () => {
    const back = roundTrip(new Error('nope'));
    expect(back).toBeInstanceOf(Error);
    expect(back.message).toBe('nope');
  });

  it('should return undefined for a missing stored value', () => {
    expect(deserializeValue(null)).toBeUndefined();
    expect(deserializeValue(undefined)).toBeUndefined();
  });

  it('should raise SerializationError for a function, naming its path', () => {
    expect(() => serializeValue(() => 1)).toThrow(SerializationError);
    expect(() => serializeValue({ a: [1, { fn: () => 1 }] })).toThrow(
      'Cannot store a function at result.a[1].fn; return plain data from steps.',
    );
  });

  it('should raise SerializationError for a symbol', () => {
    expect(() => serializeValue(Symbol('s'))).toThrow(SerializationError);
    expect(() => serializeValue({ s: Symbol('s') })).toThrow(/Cannot store a symbol at result\.s/);
  });

  it('should look for functions and symbols inside Map keys, Map values and Sets', () => {
    expect(() => serializeValue(new Map([['k', () => 1]]))).toThrow(SerializationError);
    expect(() => serializeValue(new Map([[Symbol('k'), 1]]))).toThrow(SerializationError);
    expect(() => serializeValue(new Set([Symbol('x')]))).toThrow(/result\.<item>/);
  });

  it('should raise SerializationError for a circular object', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(() => serializeValue(a)).toThrow(SerializationError);
    expect(() => serializeValue(a)).toThrow('Cannot store a circular structure (at result.self).');
  });

  it('should raise SerializationError for cycles through arrays, Maps and Sets', () => {
    const arr: unknown[] = [];
    arr.push({ back: arr });
    expect(() => serializeValue(arr)).toThrow(SerializationError);
    const map = new Map<string, unknown>();
    map.set('me', map);
    expect(() => serializeValue(map)).toThrow(SerializationError);
    const set = new Set<unknown>();
    set.add([set]);
    expect(() => serializeValue(set)).toThrow(SerializationError);
  });

  it('should accept shared references that are not circular', () => {
    const shared = { id: 1 };
    const value = { a: shared, b: shared, list: [shared, shared] };
    const back = roundTrip(value);
    expect(back).toEqual(value);
  });

  it('should accept the same Date or Map reachable twice', () => {
    const at = new Date(1_000);
    const m = new Map([['x', 1]]);
    expect(() => serializeValue({ a: at, b: at, m1: m, m2: m })).not.toThrow();
  });

  it('should raise errors with the CHRONOFORGE_SERIALIZATION code', () => {
    try {
      serializeValue(() => 1);
      expect.unreachable();
    } catch (err) {
      expect((err as SerializationError).code).toBe('CHRONOFORGE_SERIALIZATION');
    }
  });

  it('should raise SerializationError for an own "__proto__" key (superjson refuses it)', () => {
    const value: unknown = JSON.parse('{"a":{"__proto__":[]}}');
    expect(() => serializeValue(value)).toThrow(SerializationError);
    expect(() => serializeValue(value)).toThrow(/^Cannot serialize value: .*__proto__/);
  });

  // NOTE: superjson 2.x refuses object keys named `constructor` or `prototype` (prototype
  // pollution guard). This is a documented limitation of step results (README, "Step results").
  it('should refuse "constructor" and "prototype" keys with a SerializationError', () => {
    expect(() => serializeValue({ team: { constructor: 'Ferrari' } })).toThrow(SerializationError);
    expect(() => serializeValue({ docs: [{ prototype: 'v1' }] })).toThrow(SerializationError);
  });

  it('should round-trip any JSON value unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue().filter(withoutGuardedKeys), (value) => {
        expect(roundTrip(value)).toEqual(value);
      }),
    );
  });
});

describe('values PostgreSQL cannot store', () => {
  it('should refuse NUL characters and lone surrogates in strings and property names, naming the path', () => {
    expect(() => serializeValue({ a: ['ok', 'x\u0000'] })).toThrow(
      'Cannot store the string at result.a[1]: it contains a NUL character (\\u0000).',
    );
    expect(() => jsonByteSize({ s: 'a\ud800' }, 'input')).toThrow(
      'Cannot store the string at input.s: it contains a lone UTF-16 surrogate (\\ud800).',
    );
    expect(() => jsonByteSize({ 'k\u0000': 1 }, 'input')).toThrow(SerializationError);
    expect(() => serializeValue(new Map([['\udc00', 1]]))).toThrow(SerializationError);
    expect(() => serializeValue('x', 'signal payload')).not.toThrow();
    expect(() => serializeValue('\u0000', 'signal payload')).toThrow(/at signal payload:/);
  });

  it('should accept well-formed surrogate pairs', () => {
    expect(roundTrip({ emoji: '😀', pair: '\ud83d\ude00' })).toEqual({ emoji: '😀', pair: '😀' });
  });

  it('should refuse nesting deeper than MAX_VALUE_DEPTH instead of overflowing the stack', () => {
    const nest = (levels: number) => {
      let v: unknown = 1;
      for (let i = 0; i < levels; i++) v = [v];
      return v;
    };
    expect(() => jsonByteSize(nest(MAX_VALUE_DEPTH), 'input')).not.toThrow();
    expect(() => jsonByteSize(nest(MAX_VALUE_DEPTH + 1), 'input')).toThrow(/nested deeper than/);
    expect(() => serializeValue(nest(100_000))).toThrow(SerializationError);
  });

  it('should turn a throwing getter into a SerializationError', () => {
    const value = Object.defineProperty({}, 'x', {
      enumerable: true,
      get: () => {
        throw new Error('nope');
      },
    });
    expect(() => jsonByteSize(value, 'input')).toThrow('Cannot read input: nope');
  });

  it('should either store a string unchanged or refuse it, never alter it', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const unstorable = unstorableText(text);
        if (unstorable) expect(() => jsonByteSize(text, 'input')).toThrow(SerializationError);
        else expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
      }),
    );
  });
});

describe('jsonByteSize()', () => {
  it('should return the UTF-8 byte length of the JSON encoding', () => {
    expect(jsonByteSize({ a: 1 }, 'input')).toBe(7);
    expect(jsonByteSize(null, 'input')).toBe(4);
    expect(jsonByteSize('é', 'input')).toBe(4); // "é" = 1 + 2 + 1 bytes
    expect(jsonByteSize('😀', 'input')).toBe(6);
    expect(jsonByteSize([1, 2, 3], 'input')).toBe(7);
  });

  it('should raise SerializationError for a function or symbol, naming the value', () => {
    expect(() => jsonByteSize({ f: () => 1 }, 'input')).toThrow(
      'Cannot store a function at input.f; return plain data from steps.',
    );
    expect(() => jsonByteSize([Symbol('s')], 'state "k"')).toThrow(SerializationError);
  });

  it('should raise SerializationError for a circular structure', () => {
    const a: Record<string, unknown> = {};
    a.a = a;
    expect(() => jsonByteSize(a, 'input')).toThrow(SerializationError);
  });

  it('should accept shared references that are not circular', () => {
    const shared = { x: 1 };
    expect(jsonByteSize({ a: shared, b: shared }, 'input')).toBe(
      JSON.stringify({ a: shared, b: shared }).length,
    );
  });

  it('should raise SerializationError for a BigInt', () => {
    expect(() => jsonByteSize({ n: 1n }, 'input')).toThrow(SerializationError);
    expect(() => jsonByteSize({ n: 1n }, 'input')).toThrow(/^input is not JSON: /);
  });

  it('should raise SerializationError for a top-level undefined', () => {
    expect(() => jsonByteSize(undefined, 'input')).toThrow('input is not JSON (got undefined).');
  });

  it('should agree with Buffer.byteLength(JSON.stringify(value)) for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        return jsonByteSize(value, 'input') === Buffer.byteLength(JSON.stringify(value), 'utf8');
      }),
    );
  });
});
