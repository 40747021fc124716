import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import {
  Branch,
  ChronoForgeClock,
  type ExecutionLogState,
  Repeat,
  Workflow,
  WorkflowContext,
  type WorkflowRunDetail,
} from '../../lib/index.js';
import { completedSteps, type IdleHook } from '../../lib/testing/index.js';
import { Calls, orderProviders } from '../fixtures/orders.fixture.js';
import { timerProviders } from '../fixtures/timers.fixture.js';
import { suiteHarness } from '../support/suite.js';

/** One of every durable call: timers, a signal wait, a branch with a spawn, a merge, a repeat. */
@Injectable()
class EveryDurableCall {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly clock: ChronoForgeClock,
  ) {}

  @Workflow('kit.everyCall')
  async run(): Promise<string> {
    await this.ctx.sleep('1h', 'nap');
    await this.ctx.waitUntil('ready', () => true);
    await this.ctx.continueIf('approved', () => true);
    const go = await this.ctx.waitForSignal<{ n: number }>('go');
    await this.fanOut();
    await this.ctx.merge('fanOut', { minInterval: '100ms' });
    // Two ticks (after 1 and 2 minutes), then `stopped` holds.
    await this.remind(await this.ctx.step('stopAt', () => this.clock.now() + 150_000));
    return `go ${go.n}`;
  }

  @Branch()
  async fanOut(): Promise<void> {
    await this.ctx.spawn('child', { workflow: 'kit.leaf' });
  }

  @Workflow('kit.leaf')
  async leaf(): Promise<string> {
    return this.ctx.step('leaf', () => 'leaf');
  }

  stopped(stopAt: number): boolean {
    return this.clock.now() >= stopAt;
  }

  @Repeat('1m', { till: 'stopped' })
  async remind(stopAt: number, scheduledAt = new Date()): Promise<void> {
    void [stopAt, scheduledAt];
  }
}

/** Repeat ticks are named by their time, which differs per run: count them instead. */
const isTick = (name: string) => /\$\d+$/.test(name);
const tickless = (run: WorkflowRunDetail) => {
  const steps = completedSteps(run);
  return {
    state: run.state,
    result: run.result,
    steps: steps.filter((s) => !isTick(s)),
    ticks: steps.filter(isTick).length,
  };
};

describe('testing kit (e2e)', () => {
  const suite = suiteHarness([...orderProviders, ...timerProviders, EveryDurableCall]);

  it('should drive a 7-day sleep to completion with the test clock', async () => {
    await suite.harness.client.start('timers.longSleep', { key: 'kit-sleep' });
    const run = await suite.harness.runToCompletion('kit-sleep', { timeout: '10s' });
    expect(run).toMatchObject({ state: 'completed', result: 'a week later' });
  });

  it('should end every crash variant of "orders.fulfil" like the clean run', async () => {
    const report = await suite.harness.explore(
      'orders.fulfil',
      { orderId: 'kit-1', quantity: 2 },
      { keyPrefix: 'kit' },
    );
    expect(report.clean).toMatchObject({
      state: 'completed',
      steps: ['step$charge', 'step$reserve', 'step$ship'],
    });
    // In the order the run recorded its durable calls.
    expect(report.variants.map((v) => `${v.step}:${v.phase}`)).toEqual([
      'step$reserve:before',
      'step$reserve:after',
      'step$charge:before',
      'step$charge:after',
      'step$ship:before',
      'step$ship:after',
    ]);
    expect(report.variants.filter((v) => !v.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    // A crash before a checkpoint re-runs that step body once more; after it, never.
    const calls = suite.harness.moduleRef.get(Calls);
    expect(calls.count('kit-step$reserve-before', 'reserve')).toBe(2);
    expect(calls.count('kit-step$reserve-after', 'reserve')).toBe(1);
    expect(calls.count('kit-step$ship-after', 'ship')).toBe(1);
  });

  it(
    'should crash at the checkpoint of every durable call, not only at steps',
    { timeout: 120_000 },
    async () => {
      const signalled = new Set<string>();
      const sendGo: IdleHook = async (run, h) => {
        const waiting = (state: ExecutionLogState) =>
          run.steps.some((st) => st.name === 'signal$go' && st.state === state);
        if (!waiting('pending') || signalled.has(run.key)) return;
        signalled.add(run.key);
        await h.client.signal(run.key, 'go', { n: 1 });
      };
      const report = await suite.harness.explore('kit.everyCall', null, {
        keyPrefix: 'every',
        children: true,
        onIdle: sendGo,
        outcome: tickless,
        timeout: '20s',
      });
      expect(report.clean.outcome).toMatchObject({ state: 'completed', result: 'go 1', ticks: 2 });
      const points = [...new Set(report.variants.map((v) => v.step))];
      expect(points).toEqual([
        'wait$nap',
        'wait_until$ready',
        'continue_if$approved',
        'signal$go',
        'branch$fanOut',
        'spawn$fanOut$child',
        'merge$fanOut',
        'step$stopAt',
        'durably_repeat$remind',
        'durably_repeat$remind$tick1',
        'durably_repeat$remind$tick2',
        'step$leaf',
      ]);
      expect(report.variants.filter((v) => !v.fired || !v.ok)).toEqual([]);
      expect(report.variants).toHaveLength(2 * points.length);
    },
  );
});
