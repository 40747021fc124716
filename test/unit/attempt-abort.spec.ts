import { describe, expect, it } from 'vitest';
import { AttemptAbort } from '../../lib/lifecycle/abort-signals.js';

/**
 * A step attempt's abort state makes its `AbortSignal` only when read (issue #22): it must behave
 * as the signal made up front did — it follows its pass until the attempt ends, and the first
 * reason (the timeout's or the pass's) wins.
 */
describe('AttemptAbort', () => {
  it('should follow its pass while the attempt runs, read before or after the abort', () => {
    const pass = new AbortController();
    const early = new AttemptAbort(pass.signal);
    const earlySignal = early.signal;
    const late = new AttemptAbort(pass.signal);
    const fired: unknown[] = [];
    earlySignal.addEventListener('abort', () => fired.push(earlySignal.reason));
    pass.abort('cancelled');
    expect(fired).toEqual(['cancelled']);
    expect(early.aborted).toBe(true);
    expect(late.aborted).toBe(true);
    expect(late.reason).toBe('cancelled');
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toBe('cancelled');
  });

  it("should keep the first reason: a timeout before the pass's abort, or the pass's before it", () => {
    const pass = new AbortController();
    const timedOut = new AttemptAbort(pass.signal);
    timedOut.abort('timeout');
    pass.abort('cancelled');
    expect(timedOut.reason).toBe('timeout');
    expect(timedOut.signal.reason).toBe('timeout');

    const pass2 = new AbortController();
    const cancelled = new AttemptAbort(pass2.signal);
    pass2.abort('cancelled');
    cancelled.abort('timeout');
    expect(cancelled.reason).toBe('cancelled');
    expect(cancelled.signal.reason).toBe('cancelled');
  });

  it('should no longer follow its pass once the attempt ended, but stay aborted if it was', () => {
    const pass = new AbortController();
    const readDuring = new AttemptAbort(pass.signal);
    const signal = readDuring.signal;
    const unread = new AttemptAbort(pass.signal);
    readDuring.end();
    unread.end();
    pass.abort('cancelled');
    expect(signal.aborted).toBe(false);
    expect(readDuring.aborted).toBe(false);
    expect(unread.aborted).toBe(false);
    expect(unread.signal.aborted).toBe(false);

    const pass2 = new AbortController();
    const abortedDuring = new AttemptAbort(pass2.signal);
    pass2.abort('cancelled');
    abortedDuring.end();
    expect(abortedDuring.aborted).toBe(true);
    expect(abortedDuring.signal.reason).toBe('cancelled');
  });

  it('should make its signal only when read', () => {
    const pass = new AbortController();
    const attempt = new AttemptAbort(pass.signal);
    attempt.abort('timeout');
    attempt.end();
    expect((attempt as unknown as { controller?: AbortController }).controller).toBeUndefined();
    expect(attempt.signal.reason).toBe('timeout');
  });
});
