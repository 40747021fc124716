import { describe, expect, it } from 'vitest';
import {
  attributeTerm,
  checkAttributeFilter,
  checkAttributes,
  formatAttributes,
  MAX_ATTRIBUTES,
  parseAttributeTerm,
  parseAttributeTerms,
} from '../../lib/definitions/search-attributes.js';
import { SearchAttributeError } from '../../lib/errors/search-attribute.error.js';

describe('search attributes: checks and filter terms', () => {
  it('should split an update into entries to set and keys to remove', () => {
    expect(checkAttributes({ a: 'x', b: 2, c: false, d: null }, 'u', true)).toEqual({
      set: { a: 'x', b: 2, c: false },
      remove: ['d'],
    });
  });

  it.each([
    [{ 'a b': 1 }],
    [{ '1a': 1 }],
    [{ ['k'.repeat(65)]: 1 }],
    [{ a: { b: 1 } }],
    [{ a: [1] }],
    [{ a: undefined }],
    [{ a: Number.NaN }],
    [{ a: 'x'.repeat(257) }],
    [{ a: 'nul\u0000' }],
    [{ a: 'esc\u001b[2J' }],
    [new Map([['a', 1]])],
    [['a']],
    ['a=1'],
    [null],
    [Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES + 1 }, (_, i) => [`k${i}`, i]))],
  ])('should refuse %j', (value) => {
    expect(() => checkAttributes(value, 'u', true)).toThrow(SearchAttributeError);
  });

  it('should refuse null outside an update, and an empty filter', () => {
    expect(() => checkAttributes({ a: null }, 'start', false)).toThrow(SearchAttributeError);
    expect(() => checkAttributeFilter({}, 'list')).toThrow(/at least one/);
    expect(checkAttributeFilter({ 'a.b-c_d': 'x' }, 'list')).toEqual({ 'a.b-c_d': 'x' });
  });

  it('should parse text terms as strings and := terms as numbers or booleans', () => {
    expect(parseAttributeTerm('customerId=c-42', 't')).toEqual(['customerId', 'c-42']);
    expect(parseAttributeTerm('note=a=b', 't')).toEqual(['note', 'a=b']);
    expect(parseAttributeTerm('empty=', 't')).toEqual(['empty', '']);
    expect(parseAttributeTerm('n:=42', 't')).toEqual(['n', 42]);
    expect(parseAttributeTerm('x:=-1.5e3', 't')).toEqual(['x', -1500]);
    expect(parseAttributeTerm('vip:=true', 't')).toEqual(['vip', true]);
    expect(parseAttributeTerm('vip:=false', 't')).toEqual(['vip', false]);
    for (const bad of ['nothing', '=v', 'n:=', 'n:=abc', 'n:=Infinity', 'a b=1'])
      expect(() => parseAttributeTerm(bad, 't'), bad).toThrow(SearchAttributeError);
    expect(parseAttributeTerms(['a=1', 'b:=1'], 't')).toEqual({ a: '1', b: 1 });
    expect(parseAttributeTerms([], 't')).toBeUndefined();
  });

  it('should print attributes as the terms that match them', () => {
    const attributes = { customerId: 'c-42', n: 42, vip: true };
    expect(formatAttributes(attributes)).toBe('customerId=c-42 n:=42 vip:=true');
    for (const [k, v] of Object.entries(attributes))
      expect(parseAttributeTerm(attributeTerm(k, v), 't')).toEqual([k, v]);
  });

  it('should refuse a "__proto__" key rather than drop it silently (update, start, filter, term)', () => {
    const parsed = JSON.parse('{"__proto__": "x", "a": 1}') as unknown;
    expect(() => checkAttributes(parsed, 'u', true)).toThrow(/__proto__/);
    expect(() => checkAttributes(parsed, 's', false)).toThrow(SearchAttributeError);
    expect(() => checkAttributeFilter(parsed, 'f')).toThrow(/__proto__/);
    expect(() => parseAttributeTerms(['__proto__=x'], 't')).toThrow(SearchAttributeError);
    // Other names of Object.prototype are ordinary own keys.
    expect(checkAttributes({ constructor: 'c', toString: 1 }, 'u', true).set).toEqual({
      constructor: 'c',
      toString: 1,
    });
  });

  it('should refuse filter terms that name one key twice (they could never all match)', () => {
    expect(() => parseAttributeTerms(['stage=paid', 'stage=done'], 't')).toThrow(/"stage".*twice/);
    expect(() => parseAttributeTerms(['n:=1', 'n=1'], 't')).toThrow(SearchAttributeError);
    expect(parseAttributeTerms(['n:=1', 'n:=1'], 't')).toEqual({ n: 1 });
    expect(parseAttributeTerms(['constructor=c', 'toString:=1'], 't')).toEqual({
      constructor: 'c',
      toString: 1,
    });
  });
});
