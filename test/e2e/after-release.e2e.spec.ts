import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkflowClient, WorkflowQueue } from '../../lib/index.js';
import { persistProviders } from '../fixtures/persist.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** Each action after a pass released its lock is independent of the others. */
describe('after-release actions (e2e)', () => {
  const suite = suiteApp('after', persistProviders, { options: { recovery: false } });
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    // No sweeper: the only wake-up of the parent is what its pass enqueues.
    app = suite.app;
    client = suite.client;
  });

  afterAll(async () => {
    vi.restoreAllMocks();
  });

  it("should enqueue the parent's safety wake when its merge poller's enqueue fails", async () => {
    // Fault: the queue refuses the merge poller's job once.
    const enqueueMerge = vi
      .spyOn(app.get(WorkflowQueue), 'enqueueMerge')
      .mockRejectedValueOnce(new Error('queue unavailable (injected)'));
    await client.start('persist.parent', { key: 'parent-1' });
    const parent = await eventually(async () => {
      const run = await client.get('parent-1');
      const merge = run.steps.find((s) => s.name === 'merge$kids');
      return run.state === 'idle' && merge?.state === 'pending' && run.nextRunAt ? run : undefined;
    });
    expect(enqueueMerge).toHaveBeenCalledTimes(1);
    const bull = app.get(WorkflowQueue).bullQueue;
    // The safety wake is due about 30 s after the pass (2 × minInterval + the merge grace); a job
    // due now would be a retry of a failed job, not a wake-up.
    const wake = await eventually(
      async () => {
        const jobs = await bull.getJobs(['delayed', 'waiting', 'prioritized']);
        return jobs.find(
          (j) =>
            (j.data as { workflowId?: string }).workflowId === parent.id &&
            j.timestamp + (j.delay ?? 0) > Date.now() + 10_000,
        );
      },
      5_000,
      "the parent's safety wake job",
    );
    expect(wake.name).toBe('run');
  });
});
