import { describe, expect, it } from 'vitest';
import { WorkflowQueue } from '../../lib/index.js';
import { composeProviders } from '../fixtures/compose.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('composition: dedicated merge and maintenance queues (e2e)', () => {
  const suite = suiteApp('cqueues', composeProviders);
  const { schema, queueName } = suite;

  const polls = async (key: string): Promise<number> => {
    const [row] = await sql<{ polls: number | null }>(
      `SELECT (l.metadata->'poll'->>'polls')::int AS polls FROM "${schema}".chrono_forge_execution_logs l
       JOIN "${schema}".chrono_forge_workflows w ON w.id = l.workflow_id
       WHERE w.key = $1 AND l.step_name = 'branch$slow'`,
      [key],
    );
    return row?.polls ?? 0;
  };

  it('should name the dedicated queues after queueName', () => {
    const queue = suite.app.get(WorkflowQueue);
    expect(queue.dedicatedQueue('merge').name).toBe(`${queueName}-merge`);
    expect(queue.dedicatedQueue('maintenance').name).toBe(`${queueName}-maintenance`);
  });

  it('should keep polling a merge while the run queue does not serve jobs', async () => {
    const queue = suite.app.get(WorkflowQueue);
    const handle = await suite.client.start('checkout.slowMerge', { key: 'q-1' });
    await eventually(async () => (await polls('q-1')) >= 1, 20_000, 'the first poll');
    // No run job is served from now on (a backlog that never drains); merge polls go on.
    await queue.bullQueue.pause();
    try {
      const seen = await polls('q-1');
      await eventually(async () => (await polls('q-1')) >= seen + 3, 20_000, 'three more polls');
      const merges = await queue.dedicatedQueue('merge').getJobs(['delayed', 'waiting', 'active']);
      expect(merges.length).toBeGreaterThan(0);
      expect(await queue.bullQueue.getJobs(['delayed', 'waiting'])).not.toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'merge' })]),
      );
    } finally {
      await queue.bullQueue.resume();
    }
    await expect(handle.result({ timeout: '30s' })).resolves.toBe('merged');
  }, 90_000);
});
