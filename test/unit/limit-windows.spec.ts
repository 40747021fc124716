import { describe, expect, it } from 'vitest';
import { maxInWindow, peakOverlap } from '../support/limit-windows.js';

describe('limit windows (the limit suites’ measures)', () => {
  it('should count spans open at once, an end before a start at the same millisecond', () => {
    expect(peakOverlap([])).toBe(0);
    expect(
      peakOverlap([
        { from: 0, to: 10 },
        { from: 10, to: 20 },
      ]),
    ).toBe(1);
    expect(
      peakOverlap([
        { from: 0, to: 10 },
        { from: 5, to: 20 },
        { from: 6, to: 7 },
      ]),
    ).toBe(3);
  });

  it('should count starts within any half-open window', () => {
    expect(maxInWindow([], 1000)).toBe(0);
    expect(maxInWindow([0, 999, 1000, 1999], 1000)).toBe(2);
    expect(maxInWindow([1000, 0, 500, 999], 1000)).toBe(3);
  });
});
