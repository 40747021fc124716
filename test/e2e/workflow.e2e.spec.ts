import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  InputValidationError,
  InvalidTransitionError,
  WorkflowClient,
  WorkflowFailedError,
} from '../../lib/index.js';
import { Calls, orderProviders, Switches } from '../fixtures/orders.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('workflow execution (e2e)', () => {
  const suite = suiteApp('wf', orderProviders);
  const { schema } = suite;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let calls: Calls;
  let switches: Switches;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    calls = app.get(Calls);
    switches = app.get(Switches);
  });

  it('should complete a 3-step "orders.fulfil" run with each step body run once', async () => {
    const handle = await client.start('orders.fulfil', {
      key: 'o-1',
      input: { orderId: 'ord1', quantity: 2 },
    });
    const result = await handle.result({ timeout: '15s' });
    expect(result).toEqual({
      reserved: 2,
      chargeId: 'ch_ord1_20',
      chargedAt: '2026-01-02T03:04:05.678Z',
      shipped: true,
    });
    for (const step of ['reserve', 'charge', 'ship']) expect(calls.count('o-1', step)).toBe(1);
    const run = await client.get('o-1');
    expect(run.state).toBe('completed');
    expect(run.steps.map((s) => s.name)).toEqual([
      'step$reserve',
      'step$charge',
      'step$ship',
      '$workflow_completion$',
    ]);
    expect(run.steps.every((s) => s.state === 'completed' && s.attempts === 1)).toBe(true);
  });

  it('should round-trip Date values through a stored step result', async () => {
    const rows = await sql<{ result: { json: unknown; meta: unknown } }>(
      `SELECT l.result FROM "${schema}".chrono_forge_execution_logs l
       JOIN "${schema}".chrono_forge_workflows w ON w.id = l.workflow_id
       WHERE w.key = 'o-1' AND l.step_name = 'step$charge'`,
    );
    expect(rows[0].result).toMatchObject({
      json: { at: '2026-01-02T03:04:05.678Z' },
      meta: { values: { at: ['Date'] } },
    });
  });

  it('should return one run when the same key is started twice', async () => {
    const a = await client.start('orders.fulfil', {
      key: 'o-dup',
      input: { orderId: 'dup1', quantity: 1 },
    });
    const b = await client.start('orders.fulfil', {
      key: 'o-dup',
      input: { orderId: 'other', quantity: 9 },
    });
    expect(b.id).toBe(a.id);
    await a.result({ timeout: '15s' });
    const runs = await sql(`SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = 'o-dup'`);
    expect(runs).toHaveLength(1);
    expect(calls.count('o-dup', 'reserve')).toBe(1);
  });

  it('should reject invalid input with class-validator messages and store nothing', async () => {
    const err = await client
      .start('orders.fulfil', { key: 'o-bad', input: { orderId: 'x', quantity: 0 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputValidationError);
    expect((err as InputValidationError).messages).toEqual(
      expect.arrayContaining([
        'orderId must be longer than or equal to 3 characters',
        'quantity must not be less than 1',
      ]),
    );
    expect(
      await sql(`SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = 'o-bad'`),
    ).toHaveLength(0);
  });

  it('should record two error logs and attempts=3 for a step that fails twice then succeeds', async () => {
    switches.failuresLeft.set('o-flaky', 2);
    const handle = await client.start('orders.fulfil', {
      key: 'o-flaky',
      input: { orderId: 'flk1', quantity: 1 },
    });
    await handle.result({ timeout: '15s' });
    const run = await client.get('o-flaky');
    const ship = run.steps.find((s) => s.name === 'step$ship');
    expect(ship).toMatchObject({ state: 'completed', attempts: 3 });
    expect(run.errors.map((e) => [e.stepName, e.attempt, e.errorClass])).toEqual([
      ['step$ship', 1, 'FlakyError'],
      ['step$ship', 2, 'FlakyError'],
    ]);
    expect(calls.count('o-flaky', 'reserve')).toBe(1);
    expect(calls.count('o-flaky', 'ship')).toBe(3);
  });

  it('should stall on an exhausted step, resume with retry(), and refuse to retry a completed run', async () => {
    switches.alwaysFail.add('o-stall');
    const handle = await client.start('orders.fulfil', {
      key: 'o-stall',
      input: { orderId: 'stl1', quantity: 1 },
    });
    await expect(handle.result({ timeout: '15s' })).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(await handle.status()).toBe('stalled');
    const stalled = await client.get('o-stall');
    expect(stalled.steps.find((s) => s.name === 'step$ship')).toMatchObject({
      state: 'failed',
      attempts: 3,
    });
    expect(stalled.errors).toHaveLength(3);

    switches.alwaysFail.delete('o-stall');
    await client.retry('o-stall');
    await expect(handle.result({ timeout: '15s' })).resolves.toMatchObject({ shipped: true });
    const done = await client.get('o-stall');
    expect(done.steps.some((s) => s.name.startsWith('$workflow_retry$'))).toBe(true);
    expect(calls.count('o-stall', 'reserve')).toBe(1);

    const err = await client.retry('o-stall').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTransitionError);
    expect((err as Error).message).toContain('state "completed"');
  });

  it('should keep separate retry budgets per error class with a composite policy', async () => {
    switches.script.set('o-comp', ['a', 'a', 'b', 'b']);
    const handle = await client.start('orders.composite', { key: 'o-comp' });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('ok');
    const run = await client.get('o-comp');
    const step = run.steps.find((s) => s.name === 'step$flaky');
    expect(step).toMatchObject({ state: 'completed', attempts: 5 });
    expect(step?.metadata).toMatchObject({ retry_counts: { FlakyError: 2, OtherError: 2 } });
  });

  it('should give repeated calls of one step deterministic occurrence names and keep durable state', async () => {
    const handle = await client.start('orders.repeat', { key: 'o-rep' });
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual([0, 2, 4]);
    const run = await client.get('o-rep');
    expect(run.steps.map((s) => s.name).slice(0, 3)).toEqual([
      'step$tick',
      'step$tick#2',
      'step$tick#3',
    ]);
    expect(run.context).toEqual({ ticks: [0, 2, 4] });
  });

  it('should retry a workflow-level error with the workflow policy, then fail it', async () => {
    const handle = await client.start('orders.broken', { key: 'o-broken' });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/failed.*workflow body bug/);
    const run = await client.get('o-broken');
    expect(run.state).toBe('failed');
    expect(run.errors.map((e) => [e.stepName, e.attempt])).toEqual([
      [null, 1],
      [null, 2],
    ]);
    expect(run.steps.some((s) => s.name === `$workflow_failure$${run.errors[1].id}`)).toBe(true);
    expect(calls.count('o-broken', 'broken')).toBe(2);
  });

  it('should refuse to cancel a completed run', async () => {
    expect((await client.list({ state: 'completed' })).length).toBeGreaterThanOrEqual(3);
    const err = await client.cancel('o-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTransitionError);
  });
});
