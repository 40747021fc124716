import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeTestingModule, type ChronoForgeTestHarness } from '../../lib/testing/index.js';
import { StateKeyWorkflows } from '../fixtures/state-keys.fixture.js';
import { DATABASE_URL, QUEUE_BACKEND, REDIS_URL } from '../support/env.js';

/**
 * A durable state key PostgreSQL cannot store is refused by `ctx.state.set` with a named error,
 * like such a value: stored, it made every later write of the run fail (the run stayed locked).
 */
describe('durable state keys (e2e)', () => {
  let harness: ChronoForgeTestHarness;

  beforeAll(async () => {
    harness = await ChronoForgeTestingModule.create({
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      queue: QUEUE_BACKEND,
      providers: [StateKeyWorkflows],
    });
  });
  afterAll(() => harness?.close());

  it('should refuse a state key with a NUL character with StateValueError', async () => {
    await harness.client.start('stateKeys.nul', { key: 'nul' });
    const run = await harness.runToCompletion('nul', { timeout: '15s' });
    expect(run).toMatchObject({ state: 'completed', result: 'StateValueError' });
  });
});
