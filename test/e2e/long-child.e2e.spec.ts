import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeTestingModule, type ChronoForgeTestHarness } from '../../lib/testing/index.js';
import { LongChildWorkflows } from '../fixtures/long-child.fixture.js';
import { DATABASE_URL, QUEUE_BACKEND, REDIS_URL, sql } from '../support/env.js';

/** A spawned child takes any `maxDuration` its workflow declares, as `client.start` does. */
describe('spawned children with a long maxDuration (e2e)', () => {
  let harness: ChronoForgeTestHarness;

  beforeAll(async () => {
    harness = await ChronoForgeTestingModule.create({
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      queue: QUEUE_BACKEND,
      providers: [LongChildWorkflows],
    });
  });
  afterAll(() => harness?.close());

  it('should spawn and merge a child whose maxDuration is 30 days', async () => {
    await harness.client.start('longChild.parent', { key: 'long' });
    const run = await harness.runToCompletion('long', { timeout: '20s' });
    expect(run).toMatchObject({ state: 'completed', result: 'merged' });
    const [child] = await sql<{ max_duration_ms: string }>(
      `SELECT max_duration_ms FROM "${harness.schema}".chrono_forge_workflows
       WHERE job_name = 'longChild.child'`,
    );
    expect(child.max_duration_ms).toBe(String(30 * 24 * 3_600_000));
  });
});
