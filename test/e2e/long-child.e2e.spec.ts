import { describe, expect, it } from 'vitest';
import { LongChildWorkflows } from '../fixtures/long-child.fixture.js';
import { sql } from '../support/env.js';
import { suiteHarness } from '../support/suite.js';

/** A spawned child takes any `maxDuration` its workflow declares, as `client.start` does. */
describe('spawned children with a long maxDuration (e2e)', () => {
  const suite = suiteHarness([LongChildWorkflows]);

  it('should spawn and merge a child whose maxDuration is 30 days', async () => {
    await suite.harness.client.start('longChild.parent', { key: 'long' });
    const run = await suite.harness.runToCompletion('long', { timeout: '20s' });
    expect(run).toMatchObject({ state: 'completed', result: 'merged' });
    const [child] = await sql<{ max_duration_ms: string }>(
      `SELECT max_duration_ms FROM "${suite.harness.schema}".chrono_forge_workflows
       WHERE job_name = 'longChild.child'`,
    );
    expect(child.max_duration_ms).toBe(String(30 * 24 * 3_600_000));
  });
});
