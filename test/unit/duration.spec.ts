import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import { type Duration, MAX_DURATION_MS, toMs } from '../../lib/util/duration.util.js';
import { RetryPolicy } from '../../lib/retry/retry-policy.js';

const asDuration = (value: unknown): Duration => value as Duration;

describe('toMs()', () => {
  it('should pass whole milliseconds through', () => {
    expect(toMs(0)).toBe(0);
    expect(toMs(250)).toBe(250);
    expect(toMs(86_400_000)).toBe(86_400_000);
  });

  it('should round fractional milliseconds', () => {
    expect(toMs(1.4)).toBe(1);
    expect(toMs(1.5)).toBe(2);
    expect(toMs(0.2)).toBe(0);
  });

  it.each([
    ['250ms', 250],
    ['1s', 1_000],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['2 hours', 7_200_000],
    ['10 minutes', 600_000],
    ['1y', 31_557_600_000],
    ['0s', 0],
  ] as Array<[Duration, number]>)('should convert %j to %d ms', (input, expected) => {
    expect(toMs(input)).toBe(expected);
  });

  it('should read a bare numeric string as milliseconds', () => {
    expect(toMs(asDuration('100'))).toBe(100);
  });

  it('should be case-insensitive about units', () => {
    expect(toMs(asDuration('5MS'))).toBe(5);
    expect(toMs(asDuration('2H'))).toBe(7_200_000);
  });

  it.each([
    ['a negative number', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['the empty string', ''],
    ['a blank string', '   '],
    ['an unparseable string', 'soon'],
    ['a unit without a number', 'ms'],
    ['a negative string', '-5s'],
    ['a string with surrounding spaces', ' 5m '],
    ['a string longer than 100 characters', `${'1'.repeat(101)}ms`],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['an object', { ms: 5 }],
  ])('should raise InvalidOptionsError for %s', (_label, value) => {
    expect(() => toMs(asDuration(value))).toThrow(InvalidOptionsError);
  });

  // BUG: the error message is built with JSON.stringify(value), which itself throws
  // "TypeError: Do not know how to serialize a BigInt", so a bigint escapes as a TypeError
  // instead of the documented InvalidOptionsError.
  it('should raise InvalidOptionsError for a bigint', () => {
    expect(() => toMs(asDuration(5n))).toThrow(InvalidOptionsError);
  });

  it('should name the option and show the value and accepted forms in the message', () => {
    expect(() => toMs(asDuration('soon'), '`maxDuration`')).toThrow(
      "Invalid `maxDuration`: \"soon\". Use milliseconds or a string like '250ms', '5m', '1h', '7d'.",
    );
  });

  it("should default the label to 'duration'", () => {
    expect(() => toMs(-5)).toThrow(/^Invalid duration: -5\./);
  });

  it('should return a non-negative integer for any finite non-negative number', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: MAX_DURATION_MS, noNaN: true }), (n) => {
        const out = toMs(n);
        return Number.isInteger(out) && out >= 0 && Math.abs(out - n) <= 0.5;
      }),
    );
  });

  it('should agree between "<n>s" strings and n·1000', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (n) => toMs(asDuration(`${n}s`)) === n * 1_000),
    );
  });

  // A sleep or retry delay of 300 000 years made a wake time past the end of JavaScript dates:
  // the pass's release then failed (retried until maxDuration) or stored a bogus wake time.
  it.each([
    ['300000 years', asDuration('300000 years')],
    ['1e300 ms', 1e300],
    ['1000 years and a millisecond', MAX_DURATION_MS + 1],
  ])('should refuse a duration longer than 1000 years (%s)', (_label, value) => {
    expect(() => toMs(value, 'sleep duration')).toThrow(
      /^Invalid sleep duration: .* is longer than 1000 years\.$/,
    );
    expect(() => new RetryPolicy({ base: value, cap: value })).toThrow(InvalidOptionsError);
  });

  it('should accept 1000 years', () => {
    expect(toMs('1000y')).toBe(MAX_DURATION_MS);
  });

  it('should reject every negative finite number', () => {
    fc.assert(
      fc.property(
        fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
        (n) => {
          expect(() => toMs(n)).toThrow(InvalidOptionsError);
        },
      ),
    );
  });
});
