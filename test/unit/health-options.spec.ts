import { describe, expect, it } from 'vitest';
import { type HealthCheckOptions, InvalidOptionsError } from '../../lib/index.js';
import { resolveHealthCheckOptions } from '../../lib/health/health-report.js';

describe('ChronoForgeHealth.check options', () => {
  it('should default to a 2 minute sweeper lag threshold and a 5 second timeout', () => {
    expect(resolveHealthCheckOptions()).toEqual({
      sweeperLagThresholdMs: 120_000,
      timeoutMs: 5_000,
    });
    expect(resolveHealthCheckOptions({})).toEqual({
      sweeperLagThresholdMs: 120_000,
      timeoutMs: 5_000,
    });
  });

  it('should take durations as strings or milliseconds', () => {
    expect(resolveHealthCheckOptions({ sweeperLagThreshold: '5m', timeout: 250 })).toEqual({
      sweeperLagThresholdMs: 300_000,
      timeoutMs: 250,
    });
    expect(resolveHealthCheckOptions({ sweeperLagThreshold: 0 }).sweeperLagThresholdMs).toBe(0);
  });

  it.each([
    [{ sweeperLagThreshold: 'soon' }, /sweeperLagThreshold/],
    [{ sweeperLagThreshold: -1 }, /sweeperLagThreshold/],
    [{ timeout: 'never' }, /timeout/],
    [{ timeout: 0 }, /at least 1ms/],
    [{ timeout: Number.NaN }, /timeout/],
  ] as [HealthCheckOptions, RegExp][])(
    'should reject %o with a message naming the option',
    (options, message) => {
      expect(() => resolveHealthCheckOptions(options)).toThrow(InvalidOptionsError);
      expect(() => resolveHealthCheckOptions(options)).toThrow(message);
    },
  );

  it.each([null, 'fast', 5, []])('should reject options that are not an object (%o)', (options) => {
    expect(() => resolveHealthCheckOptions(options as unknown as HealthCheckOptions)).toThrow(
      /options must be an object/,
    );
  });
});
