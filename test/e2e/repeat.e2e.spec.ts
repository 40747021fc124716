import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock, WorkflowClient, WorkflowWorker } from '../../lib/index.js';
import { FF_NOW, FF_START, RepeatProbe, repeatProviders } from '../fixtures/repeat.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';

const logsOf = (schema: string, key: string) =>
  sql<{
    step_name: string;
    state: string;
    attempts: number;
    error_class: string | null;
    metadata: Record<string, unknown>;
  }>(
    `SELECT l.step_name, l.state, l.attempts, l.error_class, l.metadata FROM "${schema}".chrono_forge_execution_logs l
     JOIN "${schema}".chrono_forge_workflows w ON w.id = l.workflow_id WHERE w.key = $1 ORDER BY l.id`,
    [key],
  );

describe('@Repeat on the real clock (e2e)', () => {
  const schema = uniqueName('cf_rep');
  const queueName = uniqueName('q_rep');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: RepeatProbe;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: repeatProviders });
    client = app.get(WorkflowClient);
    probe = app.get(RepeatProbe);
  });
  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should tick on the grid, pass the scheduled time, and stop when the till method holds', async () => {
    const handle = await client.start('repeat.basic', { key: 'r-basic', input: { stopAfter: 3 } });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('stopped');
    const ticks = probe.ticks.get('r-basic') ?? [];
    expect(ticks).toHaveLength(3);
    expect(ticks[1].getTime() - ticks[0].getTime()).toBe(200);
    expect(ticks[2].getTime() - ticks[1].getTime()).toBe(200);
    probe.wallTimes
      .get('r-basic')
      ?.forEach((wall, i) => expect(wall).toBeGreaterThanOrEqual(ticks[i].getTime()));
    const logs = await logsOf(schema, 'r-basic');
    const coord = logs.find((l) => l.step_name === 'durably_repeat$remind');
    expect(coord?.state).toBe('completed');
    expect(coord?.metadata.last_execution_at).toBe(ticks[2].toISOString());
    expect(
      logs.filter((l) => l.step_name.startsWith('durably_repeat$remind$')).map((l) => l.step_name),
    ).toEqual(ticks.map((t) => `durably_repeat$remind$${t.getTime()}`));
  });

  it('should continue after a tick exhausts its retries (custom name, till function)', async () => {
    const handle = await client.start('repeat.flaky', { key: 'r-flaky' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('stopped');
    const logs = await logsOf(schema, 'r-flaky');
    const ticks = logs.filter((l) => l.step_name.startsWith('durably_repeat$nagging$'));
    expect(ticks.map((t) => [t.state, t.attempts])).toEqual([
      ['failed', 2],
      ['completed', 1],
      ['completed', 1],
    ]);
    const run = await client.get('r-flaky');
    expect(run.errors.map((e) => [e.stepName, e.attempt])).toEqual([
      [ticks[0].step_name, 1],
      [ticks[0].step_name, 2],
    ]);
  });

  it("should stall the run when onError is 'fail'", async () => {
    const handle = await client.start('repeat.strict', { key: 'r-strict' });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    const logs = await logsOf(schema, 'r-strict');
    expect(
      logs.filter((l) => l.step_name.startsWith('durably_repeat$strict$')).map((l) => l.state),
    ).toEqual(['failed']);
  });
});

describe('@Repeat on a frozen test clock (e2e)', () => {
  const schema = uniqueName('cf_rep2');
  const queueName = uniqueName('q_rep2');
  const clock = new TestClock();
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: RepeatProbe;

  beforeAll(async () => {
    clock.set(FF_NOW, true);
    app = await bootApp({ schema, queueName, providers: repeatProviders, clock });
    client = app.get(WorkflowClient);
    probe = app.get(RepeatProbe);
  });
  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should fast-forward 10^6 missed ticks into one summary row and run the first tick in the window', async () => {
    const handle = await client.start('repeat.catchUp', { key: 'r-ff' });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('caught up');
    expect(probe.ticks.get('r-ff')).toEqual([new Date(FF_NOW - 10_000)]);
    const logs = await logsOf(schema, 'r-ff');
    expect(logs).toHaveLength(4);
    const summary = logs.filter((l) => l.error_class === 'TimeoutError');
    expect(summary).toHaveLength(1);
    const lastSkipped = FF_NOW - 10_000 - 60_000;
    expect(summary[0]).toMatchObject({
      step_name: `durably_repeat$catchUp$${lastSkipped}`,
      state: 'failed',
      metadata: {
        fast_forwarded: 1_000_000,
        from: FF_START.toISOString(),
        to: new Date(lastSkipped).toISOString(),
      },
    });
    expect(
      logs.find((l) => l.step_name === 'durably_repeat$catchUp')?.metadata.last_execution_at,
    ).toBe(new Date(FF_NOW - 10_000).toISOString());
  });

  it('should run a past startAt inside the timeout at once, and wait for a future one', async () => {
    const past = await client.start('repeat.startAt', { key: 'r-past', input: { future: false } });
    await expect(past.result({ timeout: '10s' })).resolves.toBe('done');
    expect(probe.ticks.get('r-past')).toEqual([new Date(FF_NOW - 10_000)]);

    const future = await client.start('repeat.startAt', {
      key: 'r-future',
      input: { future: true },
    });
    await eventually(async () => {
      const run = await client.get('r-future');
      return run.state === 'idle' && run.steps.some((s) => s.name === 'durably_repeat$future');
    });
    expect((await client.get('r-future')).nextRunAt?.getTime()).toBe(FF_NOW + 60_000);
    expect(probe.count('r-future')).toBe(0);
    // Past the sweeper's 1 s grace, so the sweep treats the wake-up as overdue.
    clock.set(FF_NOW + 61_000, true);
    await app.get(WorkflowWorker).sweep();
    await expect(future.result({ timeout: '10s' })).resolves.toBe('done');
    expect(probe.ticks.get('r-future')).toEqual([new Date(FF_NOW + 60_000)]);
  });
});
