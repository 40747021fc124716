import { describe, expect, it } from 'vitest';
import { mergeState, parseMerge } from '../../lib/branches/branch-specs.js';
import { callChildKey, callLabel } from '../../lib/branches/call-specs.js';
import { mergeResult } from '../../lib/branches/merge-result.js';
import {
  InvalidOptionsError,
  MergeResultTooLargeError,
  ReservedNameError,
} from '../../lib/index.js';
import { resolveOptions } from '../../lib/options/resolve-options.js';
import { isMergeJobData } from '../../lib/queue/job-data.js';
import { serializeValue } from '../../lib/util/serialization.util.js';
import { base, expectInvalid, loose } from './resolve-options-fixtures.js';

describe('composition: dedicated queue names', () => {
  it('should derive the merge and maintenance queues from queueName', () => {
    const resolved = resolveOptions(loose({ queueName: 'orders' }));
    expect(resolved.mergeQueueName).toBe('orders-merge');
    expect(resolved.maintenanceQueueName).toBe('orders-maintenance');
    expect(resolveOptions(base()).mergeQueueName).toBe('chronoforge-merge');
  });

  it('should take given names and refuse bad or clashing ones', () => {
    const given = resolveOptions(loose({ queues: { merge: 'm', maintenance: 'x' } }));
    expect([given.mergeQueueName, given.maintenanceQueueName]).toEqual(['m', 'x']);
    expectInvalid(loose({ queues: { merge: 'a b' } }), /queues\.merge/);
    expectInvalid(loose({ queues: 'm' }), /`queues` must be an object/);
    expectInvalid(loose({ queueName: 'q', queues: { merge: 'q' } }), /three different names/);
  });
});

describe('composition: merge modes', () => {
  const c = (
    pending: number,
    failed = 0,
    cancelled = 0,
    unfinished = pending - failed - cancelled,
    compensated = 0,
  ) => ({
    pending,
    failed,
    cancelled,
    compensated,
    unfinished,
  });

  it('should wait for completions by default, fail on a cancelled child', () => {
    expect(mergeState(undefined, c(0))).toBe('done');
    expect(mergeState(undefined, c(1, 1))).toBe('wait');
    expect(mergeState(undefined, c(1, 0, 1))).toBe('cancelled');
  });

  it('should fail the default mode on a child that failed and rolled back (compensated)', () => {
    expect(mergeState(undefined, c(2, 1, 0, 1, 1))).toBe('compensated');
    expect(mergeState(undefined, c(2, 1, 1, 0, 1))).toBe('cancelled');
    expect(mergeState('failFast', c(2, 1, 0, 1, 1))).toBe('fail');
    expect(mergeState('collect', c(1, 1, 0, 0, 1))).toBe('done');
  });

  it('should fail fast at a failure and collect once every child ended', () => {
    expect(mergeState('failFast', c(3, 1))).toBe('fail');
    expect(mergeState('failFast', c(2))).toBe('wait');
    expect(mergeState('collect', c(2, 1, 1))).toBe('done');
    expect(mergeState('collect', c(3, 1, 1))).toBe('wait');
  });

  it('should refuse an unknown mode', () => {
    expect(() => parseMerge(['a'], { mode: 'all' as 'collect' })).toThrow(InvalidOptionsError);
    expect(parseMerge(['b', 'a'], { mode: 'collect' })).toMatchObject({
      stepName: 'merge$a,b',
      mode: 'collect',
    });
  });

  it('should accept merge jobs with and without a mode only', () => {
    const job = { parentId: '1', branchLogIds: ['2'], minMs: 1, maxMs: 2, token: 't' };
    expect(isMergeJobData(job)).toBe(true);
    expect(isMergeJobData({ ...job, mode: 'failFast' })).toBe(true);
    expect(isMergeJobData({ ...job, mode: 'any' })).toBe(false);
  });
});

describe('composition: call names and merge results', () => {
  it('should key a call child apart from every branch child', () => {
    expect(callChildKey({ key: 'o-1', job_name: 'orders' }, 'call$tax#2')).toBe(
      'o-1$orders$$call$tax#2',
    );
    expect(callLabel(undefined, 'tax.compute')).toBe('tax.compute');
    expect(callLabel({ key: 'tax' }, 'tax.compute')).toBe('tax');
    expect(() => callLabel({ key: 'a$b' }, 'w')).toThrow(ReservedNameError);
    expect(() => callLabel('x' as never, 'w')).toThrow(InvalidOptionsError);
  });

  it('should list small merges and make large ones iterable only', async () => {
    const rows = [
      {
        id: '1',
        key: 'k1',
        state: 'completed',
        result: serializeValue(2),
        error_class: null,
        error_message: null,
      },
      {
        id: '2',
        key: 'k2',
        state: 'failed',
        result: null,
        error_class: 'Error',
        error_message: 'boom',
      },
    ];
    const small = mergeResult<number>(
      { counts: { total: 2, completed: 1, failed: 1 }, rows },
      () => {
        throw new Error('no query for a small merge');
      },
    );
    expect(small.completed).toEqual([{ key: 'k1', id: '1', result: 2 }]);
    expect(small.failed).toEqual([
      { key: 'k2', id: '2', state: 'failed', error: { errorClass: 'Error', message: 'boom' } },
    ]);
    async function* pages() {
      yield rows;
    }
    const large = mergeResult<number>(
      { counts: { total: 2, completed: 1, failed: 1 }, rows: null },
      pages,
    );
    expect(() => large.completed).toThrow(MergeResultTooLargeError);
    const seen = [];
    for await (const child of large) seen.push([child.key, child.result ?? child.error?.message]);
    expect(seen).toEqual([
      ['k1', 2],
      ['k2', 'boom'],
    ]);
  });
});
