import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowFailedError } from '../../lib/index.js';
import { TimerProbe, timerProviders } from '../fixtures/timers.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** A retried wait that timed out waits again, for its whole timeout from the retry on. */
describe('client.retry of a timed-out wait (e2e)', () => {
  const suite = suiteApp('tmr', timerProviders);
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: TimerProbe;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    probe = app.get(TimerProbe);
  });
  const stepOf = async (key: string, name: string) => {
    const step = (await client.get(key)).steps.find((s) => s.name === name);
    if (!step) throw new Error(`no step ${name} in run ${key}`);
    return step;
  };

  it('should give a retried waitUntil a fresh timeout, so it keeps polling until the condition holds', async () => {
    const key = 'wu-retry';
    const handle = await client.start('timers.waitUntil', { key, input: { timeout: '1s' } });
    await expect(handle.result({ timeout: '10s' })).rejects.toBeInstanceOf(WorkflowFailedError);
    const timedOut = await stepOf(key, 'wait_until$ready');
    expect(timedOut).toMatchObject({ state: 'failed', metadata: { result: 'timed_out' } });

    await client.retry(key);
    // The retried wait has polled (and not met) its condition at least once more.
    const polling = await eventually(async () => {
      const step = await stepOf(key, 'wait_until$ready');
      return step.attempts > timedOut.attempts + 1 ? step : undefined;
    });
    expect(polling.state).toBe('pending');
    expect(Date.parse(String(polling.metadata.timeout_at))).toBeGreaterThan(
      Date.parse(String(timedOut.metadata.timeout_at)),
    );
    probe.ready.add(key);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('ready');
    expect((await stepOf(key, 'wait_until$ready')).metadata.result).toBeUndefined();
  });

  it('should give a retried waitForSignal a fresh timeout, so a signal sent after the retry is delivered', async () => {
    const key = 'sig-retry';
    const handle = await client.start('timers.signalTimeout', { key, input: { timeout: '1s' } });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/WaitConditionTimeoutError/);
    const timedOut = await stepOf(key, 'signal$never');
    expect(timedOut.state).toBe('failed');

    await client.retry(key);
    // The retried pass has looked for the signal and gone back to waiting.
    const waiting = await eventually(async () => {
      const step = await stepOf(key, 'signal$never');
      return step.attempts > timedOut.attempts ? step : undefined;
    });
    expect(waiting.state).toBe('pending');
    expect(Date.parse(String(waiting.metadata.timeout_at))).toBeGreaterThan(
      Date.parse(String(timedOut.metadata.timeout_at)),
    );
    await client.signal(key, 'never', { ok: true });
    await expect(handle.result({ timeout: '10s' })).resolves.toEqual({ ok: true });
  });
});
