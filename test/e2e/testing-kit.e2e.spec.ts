import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeTestingModule, type ChronoForgeTestHarness } from '../../lib/testing/index.js';
import { Calls, orderProviders } from '../fixtures/orders.fixture.js';
import { timerProviders } from '../fixtures/timers.fixture.js';
import { DATABASE_URL, QUEUE_BACKEND, REDIS_URL } from '../support/env.js';

describe('testing kit (e2e)', () => {
  let harness: ChronoForgeTestHarness;

  beforeAll(async () => {
    harness = await ChronoForgeTestingModule.create({
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      queue: QUEUE_BACKEND,
      providers: [...orderProviders, ...timerProviders],
    });
  });
  afterAll(() => harness?.close());

  it('should drive a 7-day sleep to completion with the test clock', async () => {
    await harness.client.start('timers.longSleep', { key: 'kit-sleep' });
    const run = await harness.runToCompletion('kit-sleep', { timeout: '10s' });
    expect(run).toMatchObject({ state: 'completed', result: 'a week later' });
  });

  it('should end every crash variant of "orders.fulfil" like the clean run', async () => {
    const report = await harness.explore(
      'orders.fulfil',
      { orderId: 'kit-1', quantity: 2 },
      { keyPrefix: 'kit' },
    );
    expect(report.clean).toMatchObject({
      state: 'completed',
      steps: ['step$charge', 'step$reserve', 'step$ship'],
    });
    expect(report.variants.map((v) => `${v.step}:${v.phase}`)).toEqual([
      'step$charge:before',
      'step$charge:after',
      'step$reserve:before',
      'step$reserve:after',
      'step$ship:before',
      'step$ship:after',
    ]);
    expect(report.variants.filter((v) => !v.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    // A crash before a checkpoint re-runs that step body once more; after it, never.
    const calls = harness.moduleRef.get(Calls);
    expect(calls.count('kit-step$reserve-before', 'reserve')).toBe(2);
    expect(calls.count('kit-step$reserve-after', 'reserve')).toBe(1);
    expect(calls.count('kit-step$ship-after', 'ship')).toBe(1);
  });
});
