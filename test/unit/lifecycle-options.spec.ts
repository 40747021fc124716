import { describe, expect, it } from 'vitest';
import {
  stepCompensation,
  toTimeoutMs,
  workflowLifecycle,
} from '../../lib/definitions/lifecycle-options.js';
import { InvalidOptionsError } from '../../lib/errors/invalid-options.error.js';
import type { CompensateOn, WorkflowOptions } from '../../lib/index.js';

describe('workflowLifecycle()', () => {
  it('should default to rolling back failed and stalled runs, cancelling at a deadline', () => {
    expect(workflowLifecycle({}, 'W#m')).toEqual({
      compensateOn: ['failed', 'stalled'],
      timeoutMs: undefined,
      onTimeout: 'cancel',
    });
  });

  it('should take the given options, without duplicates', () => {
    const o: WorkflowOptions = {
      compensateOn: ['cancelled', 'cancelled', 'failed'],
      timeout: '2h',
      onTimeout: 'fail',
    };
    expect(workflowLifecycle(o, 'W#m')).toEqual({
      compensateOn: ['cancelled', 'failed'],
      timeoutMs: 7_200_000,
      onTimeout: 'fail',
    });
  });

  it.each<[string, WorkflowOptions]>([
    ['an unknown outcome', { compensateOn: ['completed' as CompensateOn] }],
    ['a string', { compensateOn: 'failed' as unknown as CompensateOn[] }],
    ['an unknown onTimeout', { onTimeout: 'retry' as 'fail' }],
    ['a zero timeout', { timeout: 0 }],
    ['a bad timeout', { timeout: 'soon' as '1s' }],
  ])('should refuse %s with InvalidOptionsError naming the method', (_, o) => {
    expect(() => workflowLifecycle(o, 'Orders#fulfil')).toThrow(InvalidOptionsError);
    expect(() => workflowLifecycle(o, 'Orders#fulfil')).toThrow(/Orders#fulfil/);
  });
});

describe('toTimeoutMs()', () => {
  it('should keep undefined and convert durations', () => {
    expect(toTimeoutMs(undefined, 't')).toBeUndefined();
    expect(toTimeoutMs('30s', 't')).toBe(30_000);
    expect(toTimeoutMs(5, 't')).toBe(5);
  });
});

describe('stepCompensation()', () => {
  class Payments {
    refunds: unknown[][] = [];
    async refund(...args: unknown[]): Promise<void> {
      this.refunds.push(args);
    }
  }

  it('should call a method of the same provider with the arguments, then the result', async () => {
    const p = new Payments();
    await stepCompensation(p, 'refund', 'Payments#charge')?.('order-1', 500, { id: 'ch_1' });
    expect(p.refunds).toEqual([['order-1', 500, { id: 'ch_1' }]]);
  });

  it('should return a function as given, and undefined without a compensation', () => {
    const fn = () => undefined;
    expect(stepCompensation(new Payments(), fn, 'P#c')).toBe(fn);
    expect(stepCompensation(new Payments(), undefined, 'P#c')).toBeUndefined();
  });

  it('should refuse a name that is not a method of the provider', () => {
    expect(() => stepCompensation(new Payments(), 'refnd', 'Payments#charge')).toThrow(
      /Payments#charge/,
    );
    expect(() => stepCompensation(new Payments(), 42 as unknown as string, 'P#c')).toThrow(
      InvalidOptionsError,
    );
  });
});
