import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScheduledRunInput, Workflow } from '../../lib/index.js';
import { ChronoForgeTestingModule, type ChronoForgeTestHarness } from '../../lib/testing/index.js';
import { DATABASE_URL, eventually, QUEUE_BACKEND, REDIS_URL } from '../support/env.js';

@Injectable()
class Nightly {
  @Workflow('kit.nightly')
  async run(input: ScheduledRunInput): Promise<string> {
    return input.scheduledAt.toISOString();
  }
}

describe('schedules with the testing kit (e2e)', () => {
  let harness: ChronoForgeTestHarness;

  beforeAll(async () => {
    harness = await ChronoForgeTestingModule.create({
      providers: [Nightly],
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      queue: QUEUE_BACKEND,
      options: { schedules: { pollEvery: '100ms' } },
    });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('should fire a nightly tick when the TestClock reaches it', async () => {
    const { nextTicks } = await harness.client.schedules.create('nightly', {
      cron: '0 2 * * *',
      workflow: 'kit.nightly',
    });
    const tick = nextTicks[0];
    harness.clock.set(tick.getTime() + 500);
    const key = `sched:nightly:${tick.toISOString()}`;
    const handle = await eventually(() => harness.client.handle(key).catch(() => null), 5_000);
    await expect(handle.result({ timeout: '5s' })).resolves.toBe(tick.toISOString());
    expect((await harness.client.schedules.get('nightly')).nextTicks[0].getTime()).toBe(
      tick.getTime() + 86_400_000,
    );
  });
});
