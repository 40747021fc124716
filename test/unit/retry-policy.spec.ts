import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import {
  CompositeRetryPolicy,
  type RetryCounts,
  RetryPolicy,
  type RetryPolicyOptions,
  type RetryStrategy,
  toRetryStrategy,
} from '../../lib/retry/retry-policy.js';

class HttpError extends Error {}
class NotFoundError extends HttpError {}
class DbError extends Error {}
class TimeoutError extends Error {}

const noJitter = (options: RetryPolicyOptions = {}): RetryPolicy =>
  new RetryPolicy({ jitter: false, ...options });

describe('RetryPolicy', () => {
  describe('defaults', () => {
    it('should default to 3 attempts, 1s base, 30s cap, jitter on and retry every error', () => {
      const policy = new RetryPolicy();
      expect(policy.maxAttempts).toBe(3);
      expect(policy.baseMs).toBe(1_000);
      expect(policy.capMs).toBe(30_000);
      expect(policy.jitter).toBe(true);
      expect(policy.retryOn).toBeUndefined();
    });

    it('should accept durations as ms-style strings and as numbers', () => {
      const policy = new RetryPolicy({ base: '250ms', cap: 2_000 });
      expect(policy.baseMs).toBe(250);
      expect(policy.capMs).toBe(2_000);
    });
  });

  describe('backoff without jitter', () => {
    it('should double from base: min(cap, base·2^(attempt−1))', () => {
      const policy = noJitter({ base: '1s', cap: '30s' });
      expect([1, 2, 3, 4, 5].map((a) => policy.backoffFor(a))).toEqual([
        1_000, 2_000, 4_000, 8_000, 16_000,
      ]);
    });

    it('should clamp the delay at cap', () => {
      const policy = noJitter({ base: '1s', cap: '30s' });
      expect(policy.backoffFor(6)).toBe(30_000);
      expect(policy.backoffFor(7)).toBe(30_000);
      expect(policy.backoffFor(1_000)).toBe(30_000);
    });

    it('should use base for attempt 0 or below instead of a fraction of it', () => {
      const policy = noJitter({ base: 400, cap: 10_000 });
      expect(policy.backoffFor(0)).toBe(400);
      expect(policy.backoffFor(-3)).toBe(400);
    });

    it('should stay finite and at cap for huge attempt numbers', () => {
      const policy = noJitter({ base: '1s', cap: '10m' });
      expect(policy.backoffFor(Number.MAX_SAFE_INTEGER)).toBe(600_000);
    });

    it('should return 0 when base and cap are both 0', () => {
      expect(noJitter({ base: 0, cap: 0 }).backoffFor(5)).toBe(0);
    });

    it('should not call random when jitter is off', () => {
      const random = (): number => {
        throw new Error('random must not be called');
      };
      expect(noJitter({ base: 100, cap: 1_000 }).backoffFor(2, random)).toBe(200);
    });
  });

  describe('equal jitter', () => {
    const policy = new RetryPolicy({ base: '1s', cap: '30s' });

    it('should give d/2 when random() returns 0', () => {
      expect(policy.backoffFor(1, () => 0)).toBe(500);
      expect(policy.backoffFor(3, () => 0)).toBe(2_000);
    });

    it('should approach d when random() approaches 1', () => {
      expect(policy.backoffFor(1, () => 0.999_999)).toBe(1_000);
      expect(policy.backoffFor(3, () => 0.999_999)).toBe(4_000);
    });

    it('should interpolate linearly between d/2 and d', () => {
      expect(policy.backoffFor(1, () => 0.5)).toBe(750);
      expect(policy.backoffFor(2, () => 0.25)).toBe(1_250);
    });

    it('should apply jitter to the capped delay', () => {
      expect(policy.backoffFor(10, () => 0)).toBe(15_000);
      expect(policy.backoffFor(10, () => 0.999_999)).toBe(30_000);
    });

    it('should return whole milliseconds', () => {
      const odd = new RetryPolicy({ base: 3, cap: 3 });
      expect(Number.isInteger(odd.backoffFor(1, () => 0.3))).toBe(true);
    });

    it('should use Math.random when no random function is given', () => {
      for (let i = 0; i < 50; i++) {
        const delay = policy.backoffFor(2);
        expect(delay).toBeGreaterThanOrEqual(1_000);
        expect(delay).toBeLessThanOrEqual(2_000);
      }
    });
  });

  describe('maxAttempts and retryable()', () => {
    it('should retry while attempts < maxAttempts', () => {
      const policy = noJitter({ maxAttempts: 3 });
      const err = new Error('boom');
      expect(policy.retryable(err, 1)).toBe(true);
      expect(policy.retryable(err, 2)).toBe(true);
      expect(policy.retryable(err, 3)).toBe(false);
      expect(policy.retryable(err, 4)).toBe(false);
    });

    it('should never retry when maxAttempts is 1', () => {
      expect(noJitter({ maxAttempts: 1 }).retryable(new Error('x'), 1)).toBe(false);
    });

    it('should retry forever when maxAttempts is null', () => {
      const policy = noJitter({ maxAttempts: null });
      expect(policy.maxAttempts).toBeNull();
      expect(policy.retryable(new Error('x'), 1)).toBe(true);
      expect(policy.retryable(new Error('x'), 1_000_000)).toBe(true);
    });

    it('should treat an explicit undefined maxAttempts as the default 3', () => {
      expect(new RetryPolicy({ maxAttempts: undefined }).maxAttempts).toBe(3);
    });

    it('should not retry a retryable-by-count error that retryOn does not match', () => {
      const policy = noJitter({ maxAttempts: null, retryOn: [HttpError] });
      expect(policy.retryable(new DbError('x'), 1)).toBe(false);
    });
  });

  describe('decide()', () => {
    it('should return the backoff delay when the failure is retried', () => {
      const policy = noJitter({ maxAttempts: 3, base: 100, cap: 1_000 });
      expect(policy.decide(new Error('x'), 1, {})).toEqual({ delayMs: 100 });
      expect(policy.decide(new Error('x'), 2, {})).toEqual({ delayMs: 200 });
    });

    it('should return null once the budget is spent', () => {
      const policy = noJitter({ maxAttempts: 3 });
      expect(policy.decide(new Error('x'), 3, {})).toBeNull();
    });

    it('should pass the injected random function to the backoff', () => {
      const policy = new RetryPolicy({ base: 1_000, cap: 1_000 });
      expect(policy.decide(new Error('x'), 1, {}, () => 0)).toEqual({ delayMs: 500 });
    });

    it('should leave the counts object untouched', () => {
      const counts: RetryCounts = {};
      noJitter().decide(new Error('x'), 1, counts);
      expect(counts).toEqual({});
    });
  });

  describe('retryOn and matches()', () => {
    it('should match every error, and non-Error values, when retryOn is omitted', () => {
      const policy = new RetryPolicy();
      expect(policy.matches(new Error('x'))).toBe(true);
      expect(policy.matches(new DbError('x'))).toBe(true);
      expect(policy.matches('a string')).toBe(true);
      expect(policy.matches(undefined)).toBe(true);
    });

    it('should match the listed classes and their subclasses', () => {
      const policy = new RetryPolicy({ retryOn: [HttpError] });
      expect(policy.matches(new HttpError('x'))).toBe(true);
      expect(policy.matches(new NotFoundError('x'))).toBe(true);
    });

    it('should not match a superclass or an unrelated class of a listed class', () => {
      const policy = new RetryPolicy({ retryOn: [NotFoundError] });
      expect(policy.matches(new HttpError('x'))).toBe(false);
      expect(policy.matches(new Error('x'))).toBe(false);
      expect(policy.matches(new DbError('x'))).toBe(false);
    });

    it('should match any of several listed classes', () => {
      const policy = new RetryPolicy({ retryOn: [HttpError, DbError] });
      expect(policy.matches(new DbError('x'))).toBe(true);
      expect(policy.matches(new NotFoundError('x'))).toBe(true);
      expect(policy.matches(new TimeoutError('x'))).toBe(false);
    });

    it('should not match non-Error values when retryOn is given', () => {
      const policy = new RetryPolicy({ retryOn: [Error] });
      expect(policy.matches('boom')).toBe(false);
      expect(policy.matches({ message: 'boom' })).toBe(false);
      expect(policy.matches(null)).toBe(false);
    });

    it('should match nothing when retryOn is []', () => {
      const policy = new RetryPolicy({ maxAttempts: null, retryOn: [] });
      expect(policy.matches(new Error('x'))).toBe(false);
      expect(policy.retryable(new HttpError('x'), 1)).toBe(false);
      expect(policy.decide(new HttpError('x'), 1, {})).toBeNull();
    });
  });

  describe('budgetKey', () => {
    it("should be '*' when retryOn is omitted", () => {
      expect(new RetryPolicy().budgetKey).toBe('*');
    });

    it('should be the sorted, comma-joined class names', () => {
      expect(new RetryPolicy({ retryOn: [TimeoutError, DbError, HttpError] }).budgetKey).toBe(
        'DbError,HttpError,TimeoutError',
      );
    });

    it('should not depend on the order of retryOn', () => {
      const a = new RetryPolicy({ retryOn: [HttpError, DbError] });
      const b = new RetryPolicy({ retryOn: [DbError, HttpError] });
      expect(a.budgetKey).toBe(b.budgetKey);
    });

    it('should be the empty string when retryOn is []', () => {
      expect(new RetryPolicy({ retryOn: [] }).budgetKey).toBe('');
    });
  });

  describe('presets', () => {
    it('should make stepDefault 3 attempts, 1s base, 30s cap, jittered, every error', () => {
      const p = RetryPolicy.stepDefault();
      expect(p).toBeInstanceOf(RetryPolicy);
      expect([p.maxAttempts, p.baseMs, p.capMs, p.jitter, p.retryOn]).toEqual([
        3,
        1_000,
        30_000,
        true,
        undefined,
      ]);
    });

    it('should make workflowDefault 10 attempts, 1s base, 10min cap, jittered, every error', () => {
      const p = RetryPolicy.workflowDefault();
      expect([p.maxAttempts, p.baseMs, p.capMs, p.jitter, p.retryOn]).toEqual([
        10,
        1_000,
        600_000,
        true,
        undefined,
      ]);
    });

    it('should make waitDefault unbounded, 1s base, 30s cap, retrying no error class', () => {
      const p = RetryPolicy.waitDefault();
      expect([p.maxAttempts, p.baseMs, p.capMs, p.jitter, p.retryOn]).toEqual([
        null,
        1_000,
        30_000,
        true,
        [],
      ]);
      expect(p.decide(new Error('condition threw'), 1, {})).toBeNull();
    });

    it('should return a fresh instance on every call', () => {
      expect(RetryPolicy.stepDefault()).not.toBe(RetryPolicy.stepDefault());
    });
  });

  describe('option validation', () => {
    const invalid: Array<[string, unknown]> = [
      ['negative maxAttempts', { maxAttempts: -1 }],
      ['zero maxAttempts', { maxAttempts: 0 }],
      ['fractional maxAttempts', { maxAttempts: 2.5 }],
      ['NaN maxAttempts', { maxAttempts: Number.NaN }],
      ['Infinity maxAttempts', { maxAttempts: Number.POSITIVE_INFINITY }],
      ['string maxAttempts', { maxAttempts: '3' }],
      ['cap below base', { base: '10s', cap: '1s' }],
      ['cap below the default base', { cap: 500 }],
      ['base above the default cap', { base: '1m' }],
      ['negative base', { base: -1 }],
      ['NaN base', { base: Number.NaN }],
      ['unparseable base', { base: 'soon' }],
      ['empty cap', { cap: '' }],
      ['negative string cap', { cap: '-5s' }],
      ['Infinity cap', { cap: Number.POSITIVE_INFINITY }],
      ['retryOn not an array', { retryOn: HttpError }],
      ['retryOn with a non-class', { retryOn: [HttpError, 'DbError'] }],
    ];

    it.each(invalid)('should raise InvalidOptionsError for %s', (_label, options) => {
      expect(() => new RetryPolicy(options as RetryPolicyOptions)).toThrow(InvalidOptionsError);
    });

    it('should raise InvalidOptionsError for null or non-object options', () => {
      expect(() => new RetryPolicy(null as unknown as RetryPolicyOptions)).toThrow(
        InvalidOptionsError,
      );
      expect(() => new RetryPolicy(5 as unknown as RetryPolicyOptions)).toThrow(
        InvalidOptionsError,
      );
    });

    // BUG: positiveInt() builds its message with JSON.stringify(value), which throws a TypeError
    // for a bigint, so `maxAttempts: 3n` escapes as a TypeError instead of InvalidOptionsError.
    it('should raise InvalidOptionsError for a bigint maxAttempts', () => {
      expect(() => new RetryPolicy({ maxAttempts: 3n } as unknown as RetryPolicyOptions)).toThrow(
        InvalidOptionsError,
      );
    });

    it('should name the bad option in the message', () => {
      expect(() => new RetryPolicy({ maxAttempts: -1 })).toThrow(/maxAttempts/);
      expect(() => new RetryPolicy({ base: '10s', cap: '1s' })).toThrow(/cap.*below base/);
      expect(() => new RetryPolicy({ base: 'soon' as never })).toThrow(/RetryPolicy base/);
      expect(() => new RetryPolicy({ cap: -1 })).toThrow(/RetryPolicy cap/);
    });

    it('should accept cap equal to base', () => {
      expect(noJitter({ base: '2s', cap: '2s' }).backoffFor(5)).toBe(2_000);
    });
  });
});

describe('RetryPolicy.compose()', () => {
  const http = noJitter({ maxAttempts: 2, base: 100, cap: 10_000, retryOn: [HttpError] });
  const db = noJitter({ maxAttempts: 4, base: 1_000, cap: 10_000, retryOn: [DbError] });
  const fallback = noJitter({ maxAttempts: 1, base: 5, cap: 5 });

  it('should return a CompositeRetryPolicy holding the policies in order', () => {
    const composite = RetryPolicy.compose(http, db);
    expect(composite).toBeInstanceOf(CompositeRetryPolicy);
    expect(composite.policies).toEqual([http, db]);
  });

  it('should let the first matching policy decide', () => {
    const broad = noJitter({ maxAttempts: 5, base: 7, cap: 7 });
    const composite = RetryPolicy.compose(http, broad);
    expect(composite.decide(new HttpError('x'), 1, {})).toEqual({ delayMs: 100 });
    expect(composite.decide(new DbError('x'), 1, {})).toEqual({ delayMs: 7 });
  });

  it('should not fall through to a later policy once the first matching one is exhausted', () => {
    const broad = noJitter({ maxAttempts: null, base: 7, cap: 7 });
    const composite = RetryPolicy.compose(http, broad);
    const counts: RetryCounts = { HttpError: 2 };
    expect(composite.decide(new HttpError('x'), 3, counts)).toBeNull();
  });

  it('should match subclasses of a policy’s retryOn classes', () => {
    const composite = RetryPolicy.compose(http, db);
    const counts: RetryCounts = {};
    expect(composite.decide(new NotFoundError('x'), 1, counts)).toEqual({ delayMs: 100 });
    expect(counts).toEqual({ HttpError: 1 });
  });

  it('should keep a separate budget per policy in the counts object', () => {
    const composite = RetryPolicy.compose(http, db);
    const counts: RetryCounts = {};
    expect(composite.decide(new HttpError('a'), 1, counts)).toEqual({ delayMs: 100 });
    expect(composite.decide(new DbError('b'), 2, counts)).toEqual({ delayMs: 1_000 });
    expect(composite.decide(new DbError('c'), 3, counts)).toEqual({ delayMs: 2_000 });
    expect(counts).toEqual({ HttpError: 1, DbError: 2 });
    // HttpError's 2nd failure spends its budget of 2 even though DbError still has room.
    expect(composite.decide(new HttpError('d'), 4, counts)).toBeNull();
    expect(counts).toEqual({ HttpError: 2, DbError: 2 });
    expect(composite.decide(new DbError('e'), 5, counts)).toEqual({ delayMs: 4_000 });
    expect(composite.decide(new DbError('f'), 6, counts)).toBeNull();
    expect(counts).toEqual({ HttpError: 2, DbError: 4 });
  });

  it('should count from the counts object, not from the attempts argument', () => {
    const composite = RetryPolicy.compose(db);
    expect(composite.decide(new DbError('x'), 99, {})).toEqual({ delayMs: 1_000 });
    expect(composite.decide(new DbError('x'), 1, { DbError: 3 })).toBeNull();
  });

  it("should count a catch-all policy under '*'", () => {
    const composite = RetryPolicy.compose(http, fallback);
    const counts: RetryCounts = {};
    expect(composite.decide(new TimeoutError('x'), 1, counts)).toBeNull();
    expect(counts).toEqual({ '*': 1 });
  });

  it('should resume from persisted counts', () => {
    const composite = RetryPolicy.compose(http, db);
    const counts: RetryCounts = { DbError: 2 };
    expect(composite.decide(new DbError('x'), 1, counts)).toEqual({ delayMs: 4_000 });
    expect(counts.DbError).toBe(3);
  });

  it('should return null for an error no policy matches and leave the counts alone', () => {
    const composite = RetryPolicy.compose(http, db);
    const counts: RetryCounts = {};
    expect(composite.decide(new TimeoutError('x'), 1, counts)).toBeNull();
    expect(composite.decide('not an error', 1, counts)).toBeNull();
    expect(counts).toEqual({});
  });

  it('should pass the injected random function through', () => {
    const jittered = new RetryPolicy({ base: 1_000, cap: 1_000, retryOn: [DbError] });
    expect(RetryPolicy.compose(jittered).decide(new DbError('x'), 1, {}, () => 0)).toEqual({
      delayMs: 500,
    });
  });

  it('should throw InvalidOptionsError when given no policy', () => {
    expect(() => RetryPolicy.compose()).toThrow(InvalidOptionsError);
    expect(() => RetryPolicy.compose()).toThrow(/at least one policy/);
  });

  it('should throw InvalidOptionsError for anything that is not a RetryPolicy', () => {
    const composite = RetryPolicy.compose(http);
    expect(() => RetryPolicy.compose(http, composite as unknown as RetryPolicy)).toThrow(
      InvalidOptionsError,
    );
    expect(() => RetryPolicy.compose({} as RetryPolicy)).toThrow(InvalidOptionsError);
  });

  it('should report the largest maxAttempts of its policies', () => {
    expect(RetryPolicy.compose(http, db).maxAttempts).toBe(4);
    expect(RetryPolicy.compose(db, http, fallback).maxAttempts).toBe(4);
    expect(RetryPolicy.compose(fallback).maxAttempts).toBe(1);
  });

  it('should report a null maxAttempts when any policy is unbounded', () => {
    const forever = noJitter({ maxAttempts: null, retryOn: [TimeoutError] });
    expect(RetryPolicy.compose(http, forever, db).maxAttempts).toBeNull();
  });
});

describe('toRetryStrategy()', () => {
  it('should keep undefined as undefined', () => {
    expect(toRetryStrategy(undefined, 'retry')).toBeUndefined();
  });

  it('should return a RetryPolicy or composite as is', () => {
    const policy = new RetryPolicy();
    const composite = RetryPolicy.compose(policy);
    expect(toRetryStrategy(policy, 'retry')).toBe(policy);
    expect(toRetryStrategy(composite, 'retry')).toBe(composite);
  });

  it('should accept any object with a decide() method', () => {
    const custom: RetryStrategy = { maxAttempts: 1, decide: () => null };
    expect(toRetryStrategy(custom, 'retry')).toBe(custom);
  });

  it('should compose an array of policies', () => {
    const a = noJitter({ retryOn: [HttpError] });
    const b = noJitter({ retryOn: [DbError] });
    const strategy = toRetryStrategy([a, b], 'retry');
    expect(strategy).toBeInstanceOf(CompositeRetryPolicy);
    expect((strategy as CompositeRetryPolicy).policies).toEqual([a, b]);
  });

  it('should throw InvalidOptionsError for an empty array', () => {
    expect(() => toRetryStrategy([], 'retry')).toThrow(InvalidOptionsError);
  });

  it('should throw InvalidOptionsError naming the option for anything else', () => {
    for (const bad of [null, 3, 'policy', {}, { decide: 'no' }]) {
      expect(() => toRetryStrategy(bad as unknown as RetryStrategy, '`defaultRetry`')).toThrow(
        /`defaultRetry` must be a RetryPolicy/,
      );
    }
  });
});

describe('RetryPolicy properties', () => {
  // Whole-millisecond base ≤ cap; cap is bounded so that base·2^52 (the exponent ceiling) ≥ cap.
  const baseAndCap = fc
    .tuple(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 1e9 }))
    .map(([a, b]) => (a <= b ? { base: a, cap: b } : { base: b, cap: a }));
  const attempt = fc.integer({ min: 1, max: 200 });
  const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

  it('should keep the un-jittered delay within [base, cap] for any base ≤ cap and attempt ≥ 1', () => {
    fc.assert(
      fc.property(baseAndCap, attempt, ({ base, cap }, a) => {
        const delay = noJitter({ base, cap }).backoffFor(a);
        return delay >= base && delay <= cap;
      }),
    );
  });

  it('should match min(cap, base·2^(attempt−1)) without jitter', () => {
    fc.assert(
      fc.property(baseAndCap, fc.integer({ min: 1, max: 53 }), ({ base, cap }, a) => {
        expect(noJitter({ base, cap }).backoffFor(a)).toBe(Math.min(cap, base * 2 ** (a - 1)));
      }),
    );
  });

  it('should never shrink the un-jittered delay as attempts grow', () => {
    fc.assert(
      fc.property(baseAndCap, attempt, ({ base, cap }, a) => {
        const policy = noJitter({ base, cap });
        return policy.backoffFor(a + 1) >= policy.backoffFor(a);
      }),
    );
  });

  it('should keep the jittered delay within [raw/2, raw] as a whole number', () => {
    fc.assert(
      fc.property(baseAndCap, attempt, unit, ({ base, cap }, a, r) => {
        const raw = noJitter({ base, cap }).backoffFor(a);
        const delay = new RetryPolicy({ base, cap }).backoffFor(a, () => r);
        return Number.isInteger(delay) && delay >= raw / 2 && delay <= raw;
      }),
    );
  });

  it('should retry exactly while attempts < maxAttempts for errors it matches', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 2_000 }),
        (max, a) => {
          return noJitter({ maxAttempts: max }).retryable(new Error('x'), a) === a < max;
        },
      ),
    );
  });

  it('should let a composite give each policy exactly its own budget of failures', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.boolean(), { maxLength: 30 }),
        (httpMax, dbMax, sequence) => {
          const composite = RetryPolicy.compose(
            noJitter({ maxAttempts: httpMax, base: 1, cap: 1, retryOn: [HttpError] }),
            noJitter({ maxAttempts: dbMax, base: 1, cap: 1, retryOn: [DbError] }),
          );
          const counts: RetryCounts = {};
          let httpFailures = 0;
          let dbFailures = 0;
          sequence.forEach((isHttp, i) => {
            const decision = composite.decide(
              isHttp ? new HttpError() : new DbError(),
              i + 1,
              counts,
            );
            const n = isHttp ? ++httpFailures : ++dbFailures;
            expect(decision !== null).toBe(n < (isHttp ? httpMax : dbMax));
          });
          expect(counts.HttpError ?? 0).toBe(httpFailures);
          expect(counts.DbError ?? 0).toBe(dbFailures);
        },
      ),
    );
  });
});
