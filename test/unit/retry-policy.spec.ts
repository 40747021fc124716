import { describe, expect, it } from 'vitest';
import { type RetryCounts, RetryPolicy } from '../../lib/retry/retry-policy.js';
import { DbError, HttpError, NotFoundError, noJitter, TimeoutError } from './retry-fixtures.js';

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
});
