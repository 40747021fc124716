import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import {
  CompositeRetryPolicy,
  type RetryCounts,
  RetryPolicy,
} from '../../lib/retry/retry-policy.js';
import { DbError, HttpError, NotFoundError, noJitter, TimeoutError } from './retry-fixtures.js';

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
