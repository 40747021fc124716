import { describe, expect, it } from 'vitest';
import { ChildWorkflowFailedError } from '../../lib/index.js';
import { Checkout, ComposeProbe, composeProviders } from '../fixtures/compose.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('composition: ctx.call and ctx.startChild (e2e)', () => {
  const suite = suiteApp('call', composeProviders);
  const { schema } = suite;

  const childrenOf = (key: string) =>
    sql<{ key: string; state: string; parent: string | null }>(
      `SELECT w.key, w.state, l.step_name AS parent FROM "${schema}".chrono_forge_workflows w
       LEFT JOIN "${schema}".chrono_forge_execution_logs l ON l.id = w.parent_execution_log_id
       WHERE w.key LIKE $1 || '$%' ORDER BY w.id`,
      [key],
    );

  it("should return the child's typed result, start it once, and wake the parent by the child's end", async () => {
    const { client, app } = suite;
    const handle = await client.start(Checkout, 'one', {
      key: 'c-1',
      input: { sku: 'abcd', sleep: '300ms' },
    });
    await expect(handle.result({ timeout: '30s' })).resolves.toBe(40);
    const kids = await childrenOf('c-1');
    expect(kids).toEqual([
      {
        key: 'c-1$checkout.one$$call$pricing.quote',
        state: 'completed',
        parent: 'call$pricing.quote',
      },
    ]);
    const probe = app.get(ComposeProbe);
    expect(probe.runs.get('c-1$checkout.one$$call$pricing.quote')).toBe(2); // before and after its sleep
    // The parent halted once for the call and replayed once, woken by the child's end (no 5-min timer).
    expect(probe.runs.get('c-1')).toBe(2);
    const run = await client.get('c-1');
    const call = run.steps.find((s) => s.name === 'call$pricing.quote');
    expect(call?.state).toBe('completed');
  });

  it('should run parallel calls and propagate a child failure as ChildWorkflowFailedError', async () => {
    const { client } = suite;
    const handle = await client.start('checkout.many', { key: 'c-many' });
    const out = (await handle.result({ timeout: '30s' })) as { prices: number[]; caught: string };
    expect(out.prices).toEqual([20, 40]);
    expect(out.caught).toBe(
      'failed: Child run "c-many$checkout.many$$call$bad" failed: no price for x.',
    );
    const kids = await childrenOf('c-many');
    expect(kids.map((k) => [k.key.split('$$')[1], k.state])).toEqual(
      expect.arrayContaining([
        ['call$a', 'completed'],
        ['call$b', 'completed'],
        ['call$bad', 'failed'],
      ]),
    );
    expect(kids).toHaveLength(3);
  });

  it('should fail the parent with the child failure when it is not caught', async () => {
    const { client } = suite;
    const handle = await client.start(Checkout, 'one', {
      key: 'c-fail',
      input: { sku: 'z', fail: true },
    });
    const err = await handle.result({ timeout: '30s' }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toContain('no price for z');
    const run = await client.get('c-fail');
    expect(run.state).toBe('failed');
    expect(run.errors.at(-1)?.errorClass).toBe(ChildWorkflowFailedError.name);
    expect(await childrenOf('c-fail')).toHaveLength(1);
  });

  it('should start a child without waiting and join it through its handle', async () => {
    const { client } = suite;
    const handle = await client.start(Checkout, 'detached', { key: 'c-det' });
    await expect(handle.result({ timeout: '30s' })).resolves.toEqual({
      key: 'c-det$checkout.detached$$child$pricing.quote',
      price: 30,
    });
    const run = await client.get('c-det');
    const names = run.steps.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining(['child$pricing.quote', 'step$meanwhile', 'join$pricing.quote']),
    );
    expect(await childrenOf('c-det')).toHaveLength(1);
  });
});
