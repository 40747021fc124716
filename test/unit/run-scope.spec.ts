import { describe, expect, it } from 'vitest';
import { DurableCallInStepError } from '../../lib/errors/durable-call-in-step.error.js';
import { RunScope } from '../../lib/run/run-scope.js';
import { HaltExecution } from '../../lib/run/halt-execution.js';
import { stepStorage } from '../../lib/run/call-storage.js';
import { LockLostError } from '../../lib/errors/lock-lost.error.js';
import type { RunRow } from '../../lib/persistence/rows.js';
import { ChronoForgeClock } from '../../lib/util/clock.js';

const run: RunRow = {
  id: '1',
  key: 'k',
  job_name: 'w',
  input: null,
  context: {},
  state: 'running',
  attempt: 0,
  retry_counts: {},
  max_duration_ms: '1000',
  deadline_at: null,
};

const newScope = (): RunScope =>
  new RunScope(
    run,
    new Map(),
    {
      name: 'w',
      target: class {},
      methodName: 'm',
      maxDurationMs: 1000,
      toInput: (input: unknown) => input,
      compensateOn: [],
      onTimeout: 'cancel',
      invoke: async () => null,
    },
    'owner',
    () => false,
    new ChronoForgeClock(),
  );

describe('RunScope (the pass lifecycle)', () => {
  it('should make a lost lock sticky even when the caller catches the LockLostError', async () => {
    const scope = newScope();
    await scope
      .track(async () => {
        throw new LockLostError(run.id);
      })
      .catch(() => undefined);
    expect(scope.lost).toBe(true);
    let started = false;
    await expect(
      scope.track(async () => {
        started = true;
      }),
    ).rejects.toBeInstanceOf(LockLostError);
    expect(started).toBe(false);
    expect(() => scope.assertCanWork()).toThrow(LockLostError);
  });

  it('should settle only once every tracked call settled, rejected ones included', async () => {
    const scope = newScope();
    let release = (): void => undefined;
    const slow = scope.track(() => new Promise<string>((r) => (release = () => r('slow'))));
    const failed = scope.track(async () => {
      throw new Error('boom');
    });
    await expect(failed).rejects.toThrow('boom');
    let settled = false;
    const waiting = scope.settle().then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    release();
    await waiting;
    await expect(slow).resolves.toBe('slow');
    expect(scope.lost).toBe(false);
  });

  it('should refuse new work once halted, and a timer inside a step body even when caught', () => {
    const scope = newScope();
    expect(() => scope.halt(null)).toThrow(HaltExecution);
    expect(() => scope.assertCanWork()).toThrow(HaltExecution);
    expect(() => scope.assertOwned()).not.toThrow();
    stepStorage.run('step$outer', () => {
      expect(() => scope.refuseInsideStep('ctx.sleep()')).toThrow(DurableCallInStepError);
    });
    expect(scope.takeRefusal('step$outer')).toBeInstanceOf(DurableCallInStepError);
    expect(scope.takeRefusal('step$outer')).toBeUndefined();
    expect(() => scope.refuseInsideStep('ctx.sleep()')).not.toThrow();
  });

  it('should start a call made after a halt only a macrotask later, so a catch-all loop cannot spin on microtasks', async () => {
    const scope = newScope();
    expect(() => scope.halt(null)).toThrow(HaltExecution);
    const order: string[] = [];
    setImmediate(() => order.push('macrotask'));
    await scope
      .track(async () => {
        order.push('call');
        throw new HaltExecution();
      })
      .catch(() => order.push('refused'));
    expect(order).toEqual(['macrotask', 'call', 'refused']);
  });

  it('should resolve stopped on a halt, a lost lock or a crash', async () => {
    for (const stop of [
      (s: RunScope) => expect(() => s.halt(1)).toThrow(HaltExecution),
      (s: RunScope) => s.markLost(),
      (s: RunScope) => s.markCrashed(),
    ]) {
      const scope = newScope();
      let stopped = false;
      void scope.stopped.then(() => (stopped = true));
      await new Promise((r) => setImmediate(r));
      expect(stopped).toBe(false);
      stop(scope);
      await new Promise((r) => setImmediate(r));
      expect(stopped).toBe(true);
    }
  });

  it('should settle calls chained on a settling one, then never start a call made after the pass ended', async () => {
    const scope = newScope();
    const ran: string[] = [];
    void scope
      .track(async () => void ran.push('a'))
      .then(() => scope.track(async () => void ran.push('b')));
    await scope.settle();
    expect(ran).toEqual(['a', 'b']);
    let settled = false;
    void scope
      .track(async () => void ran.push('late'))
      .finally(() => (settled = true))
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toEqual(['a', 'b']);
    expect(settled).toBe(false);
  });
});
