import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidTransitionError,
  TestClock,
  WorkflowClient,
  WorkflowFailedError,
  WorkflowQueue,
  WorkflowWorker,
} from '../../lib/index.js';
import {
  FatalError,
  TimerProbe,
  timerProviders,
  TransientError,
} from '../fixtures/timers.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';

describe('durable timers (e2e)', () => {
  const schema = uniqueName('cf_tm');
  const queueName = uniqueName('q_tm');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: TimerProbe;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: timerProviders });
    client = app.get(WorkflowClient);
    probe = app.get(TimerProbe);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should resume a 1 s sleep without re-running the steps before it', async () => {
    const started = Date.now();
    const handle = await client.start('timers.sleep', { key: 's-1', input: { ms: 1000 } });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('slept');
    const gap = (probe.at('s-1', 'after') ?? 0) - started;
    expect(gap).toBeGreaterThanOrEqual(1000);
    expect(gap).toBeLessThan(4000);
    expect(probe.count('s-1', 'before')).toBe(1);
    const run = await client.get('s-1');
    const wait = run.steps.find((s) => s.name === 'wait$nap');
    expect(wait).toMatchObject({ state: 'completed' });
    expect(typeof wait?.metadata.wake_at).toBe('string');
  });

  it('should poll waitUntil until the condition holds', async () => {
    const handle = await client.start('timers.waitUntil', { key: 'wu-1', input: {} });
    await eventually(async () =>
      (await client.get('wu-1')).steps.some(
        (s) => s.name === 'wait_until$ready' && s.attempts >= 2,
      ),
    );
    probe.ready.add('wu-1');
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('ready');
  });

  it('should stall a timed-out waitUntil with WaitConditionTimeoutError in the error log', async () => {
    const handle = await client.start('timers.waitUntil', {
      key: 'wu-timeout',
      input: { timeout: '300ms' },
    });
    await expect(handle.result({ timeout: '10s' })).rejects.toBeInstanceOf(WorkflowFailedError);
    const run = await client.get('wu-timeout');
    expect(run.state).toBe('stalled');
    expect(run.errors.map((e) => [e.stepName, e.errorClass])).toEqual([
      ['wait_until$ready', 'WaitConditionTimeoutError'],
    ]);
  });

  it('should retry a listed condition error and fail the step on an unlisted one', async () => {
    probe.checkErrors.set('wu-listed', [new TransientError('flaky check')]);
    probe.ready.add('wu-listed');
    const listed = await client.start('timers.waitUntil', {
      key: 'wu-listed',
      input: { retryOn: true },
    });
    await expect(listed.result({ timeout: '10s' })).resolves.toBe('ready');
    expect((await client.get('wu-listed')).errors.map((e) => e.errorClass)).toEqual([
      'TransientError',
    ]);

    probe.checkErrors.set('wu-unlisted', [new FatalError('broken check')]);
    const unlisted = await client.start('timers.waitUntil', {
      key: 'wu-unlisted',
      input: { retryOn: true },
    });
    await expect(unlisted.result({ timeout: '10s' })).rejects.toThrow(/stalled.*FatalError/);
  });

  it('should halt continueIf with nothing scheduled until resume()', async () => {
    const handle = await client.start('timers.continueIf', { key: 'ci-1' });
    await eventually(async () =>
      (await client.get('ci-1')).steps.some((s) => s.name === 'continue_if$approved'),
    );
    await eventually(async () => (await client.get('ci-1')).state === 'idle');
    const run = await client.get('ci-1');
    expect(run.nextRunAt).toBeNull();
    const jobs = await app.get(WorkflowQueue).bullQueue.getJobs(['delayed', 'waiting', 'active']);
    expect(jobs.filter((j) => j.data.workflowId === handle.id)).toHaveLength(0);
    probe.approved.add('ci-1');
    await client.resume('ci-1');
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('approved');
    expect(probe.count('ci-1', 'start')).toBe(1);
    await expect(client.resume('ci-1')).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  it('should deliver signals sent before and during the wait exactly once each, with Dates intact', async () => {
    const handle = await client.start('timers.signals', { key: 'sig-1', input: { napMs: 400 } });
    // Sent while the run sleeps, before it reaches waitForSignal.
    await client.signal('sig-1', 'go', { n: 1, at: new Date('2026-05-06T07:08:09Z') });
    await eventually(async () => probe.count('sig-1', 'first') === 1);
    await client.signal('sig-1', 'go', { n: 2, at: new Date(0) });
    const result = await handle.result({ timeout: '10s' });
    expect(result).toEqual([
      { n: 1, at: new Date('2026-05-06T07:08:09Z') },
      { n: 2, at: new Date(0) },
      true,
    ]);
    const signals = await sql<{ consumed_by: string }>(
      `SELECT consumed_by FROM "${schema}".chrono_forge_signals s JOIN "${schema}".chrono_forge_workflows w ON w.id = s.workflow_id
       WHERE w.key = 'sig-1' ORDER BY s.id`,
    );
    expect(signals.map((s) => s.consumed_by)).toEqual(['signal$go', 'signal$go#2']);
    await expect(client.signal('sig-1', 'go', {})).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  it('should deliver a signal sent while a pass is running, exactly once', async () => {
    const handle = await client.start('timers.signalDuring', { key: 'sig-during' });
    await eventually(async () => probe.holding);
    expect(await handle.status()).toBe('running');
    await client.signal('sig-during', 'go', { during: true });
    probe.release?.();
    await expect(handle.result({ timeout: '10s' })).resolves.toEqual({ during: true });
    const signals = await sql<{ consumed_by: string }>(
      `SELECT consumed_by FROM "${schema}".chrono_forge_signals s JOIN "${schema}".chrono_forge_workflows w ON w.id = s.workflow_id
       WHERE w.key = 'sig-during'`,
    );
    expect(signals).toEqual([{ consumed_by: 'signal$go' }]);
  });

  it('should time out waitForSignal with a named error', async () => {
    const handle = await client.start('timers.signalTimeout', { key: 'sig-timeout' });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(
      /stalled.*WaitConditionTimeoutError/,
    );
  });
});

describe('timers across restarts and with a test clock (e2e)', () => {
  const schema = uniqueName('cf_tm2');
  const queueName = uniqueName('q_tm2');

  afterAll(() => cleanup(schema, queueName));

  it('should resume a sleep across a worker restart at the stored wake time', async () => {
    const first = await bootApp({ schema, queueName, providers: timerProviders });
    const handle = await first
      .get(WorkflowClient)
      .start('timers.sleep', { key: 'restart-1', input: { ms: 1500 } });
    await eventually(async () => {
      const run = await first.get(WorkflowClient).get('restart-1');
      return run.state === 'idle' && run.steps.some((s) => s.name === 'wait$nap');
    });
    const [{ wake }] = await sql<{ wake: Date }>(
      `SELECT next_run_at AS wake FROM "${schema}".chrono_forge_workflows WHERE key = 'restart-1'`,
    );
    await first.close();
    const second = await bootApp({ schema, queueName, providers: timerProviders });
    try {
      const probe = second.get(TimerProbe);
      const again = await second.get(WorkflowClient).handle('restart-1');
      expect(again.id).toBe(handle.id);
      await expect(again.result({ timeout: '10s' })).resolves.toBe('slept');
      expect(probe.at('restart-1', 'after')).toBeGreaterThanOrEqual(wake.getTime());
      expect(probe.count('restart-1', 'before')).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('should deliver a signal through the sweeper when its queued wake-up was lost', async () => {
    const worker = await bootApp({ schema, queueName, providers: timerProviders });
    await worker
      .get(WorkflowClient)
      .start('timers.signals', { key: 'sig-lost', input: { napMs: 0 } });
    await eventually(async () => {
      const run = await worker.get(WorkflowClient).get('sig-lost');
      return run.state === 'idle' && run.steps.some((s) => s.name === 'signal$go');
    });
    await worker.close();
    // A client-only process sends the signal; then the queue loses every job (a Redis flush).
    const sender = await bootApp({
      schema,
      queueName,
      providers: timerProviders,
      options: { worker: false },
    });
    await sender.get(WorkflowClient).signal('sig-lost', 'go', { n: 1, at: new Date(1) });
    await sender.get(WorkflowQueue).bullQueue.obliterate({ force: true });
    await sender.close();
    const fresh = await bootApp({ schema, queueName, providers: timerProviders });
    try {
      const probe = fresh.get(TimerProbe);
      await eventually(
        async () => probe.count('sig-lost', 'first') === 1,
        15_000,
        'the first signal',
      );
      await fresh.get(WorkflowClient).signal('sig-lost', 'go', { n: 2, at: new Date(2) });
      const done = await fresh.get(WorkflowClient).handle('sig-lost');
      await expect(done.result({ timeout: '10s' })).resolves.toEqual([
        { n: 1, at: new Date(1) },
        { n: 2, at: new Date(2) },
        true,
      ]);
    } finally {
      await fresh.close();
    }
  });

  it('should let a TestClock skip a 7 day sleep', async () => {
    const clock = new TestClock();
    const app = await bootApp({
      schema,
      queueName,
      providers: timerProviders,
      clock,
    });
    try {
      const client = app.get(WorkflowClient);
      const handle = await client.start('timers.longSleep', { key: 'week-1' });
      await eventually(async () => {
        const run = await client.get('week-1');
        return run.state === 'idle' && run.steps.some((s) => s.name === 'wait$sleep');
      });
      clock.advance(7 * 24 * 3600_000 + 1);
      await app.get(WorkflowWorker).sweep();
      await expect(handle.result({ timeout: '10s' })).resolves.toBe('a week later');
    } finally {
      await app.close();
    }
  });
});
