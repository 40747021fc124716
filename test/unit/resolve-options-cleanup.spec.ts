import { describe, expect, it } from 'vitest';
import {} from '../../lib/retry/retry-policy.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';
import { base, expectInvalid, loose } from './resolve-options-fixtures.js';

describe('resolveOptions() scheduled cleanup', () => {
  it('should leave the scheduled cleanup off by default', () => {
    expect(resolveOptions(base()).cleanup).toBe(false);
  });

  it('should parse the interval and keep the cleanup options', () => {
    const resolved = resolveOptions({
      ...base(),
      cleanup: { every: '1h', olderThan: '90d', failedOlderThan: '180d', batchSize: 200 },
    });
    expect(resolved.cleanup).toEqual({
      everyMs: 3_600_000,
      options: { olderThan: '90d', failedOlderThan: '180d', batchSize: 200 },
    });
    expect(resolveOptions({ ...base(), cleanup: { every: 250 } }).cleanup).toEqual({
      everyMs: 250,
      options: {},
    });
  });

  it('should reject a missing, bad or too short interval', () => {
    expectInvalid(loose({ cleanup: {} }), /`cleanup.every` is required/);
    expectInvalid(loose({ cleanup: { every: 'hourly' } }), /Invalid `cleanup.every`: "hourly"/);
    expectInvalid(loose({ cleanup: { every: '50ms' } }), /`cleanup.every` must be at least 100ms/);
    expectInvalid(loose({ cleanup: '1h' }), /`cleanup` must be \{ every/);
  });

  it('should reject bad retention options and unknown keys at boot', () => {
    expectInvalid(
      loose({ cleanup: { every: '1h', olderThan: 'old' } }),
      /Invalid ChronoForgeModule `cleanup` olderThan: "old"/,
    );
    expectInvalid(
      loose({ cleanup: { every: '1h', completedOlderThan: -5 } }),
      /`cleanup` completedOlderThan/,
    );
    expectInvalid(
      loose({ cleanup: { every: '1h', pruneRepeatTicksOlderThan: 'never' } }),
      /pruneRepeatTicksOlderThan/,
    );
    expectInvalid(
      loose({ cleanup: { every: '1h', batchSize: 0 } }),
      /`cleanup` batchSize must be an integer in 1\.\.100000, got 0/,
    );
    expectInvalid(
      loose({ cleanup: { every: '1h', olderthan: '30d' } }),
      /`cleanup` has unknown option\(s\) olderthan/,
    );
  });
});
