import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import {
  CompositeRetryPolicy,
  RetryPolicy,
  type RetryPolicyOptions,
  type RetryStrategy,
  toRetryStrategy,
} from '../../lib/retry/retry-policy.js';
import { resolveStepRetry } from '../../lib/retry/step-retry.js';
import { DbError, HttpError, noJitter } from './retry-fixtures.js';

describe('RetryPolicy', () => {
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

describe('resolveStepRetry()', () => {
  const own = noJitter({ maxAttempts: 7 });
  const workflow = noJitter({ maxAttempts: 5 });
  const moduleDefault = noJitter({ maxAttempts: 2 });

  it("should take the step's own policy first, then the workflow's, then the module default", () => {
    expect(resolveStepRetry(own, 'Step retry', workflow, moduleDefault)).toBe(own);
    expect(resolveStepRetry(undefined, 'Step retry', workflow, moduleDefault)).toBe(workflow);
    expect(resolveStepRetry(undefined, 'Step retry', undefined, moduleDefault)).toBe(moduleDefault);
  });

  it('should compose an array of policies and never retry for []', () => {
    const composed = resolveStepRetry([own], 'Step retry', workflow, moduleDefault);
    expect(composed).toBeInstanceOf(CompositeRetryPolicy);
    expect(resolveStepRetry([], 'Step retry', workflow, moduleDefault)).toBeNull();
  });

  it('should name the option in the error for a value that is no policy', () => {
    expect(() =>
      resolveStepRetry(
        { maxAttempts: 3 } as unknown as RetryPolicy,
        'Step retry',
        workflow,
        moduleDefault,
      ),
    ).toThrow(/Step retry must be a RetryPolicy/);
  });
});
