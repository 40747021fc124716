import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowQueue } from '../../lib/index.js';
import { bootLedgerClient } from '../support/ledger-app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

/**
 * A run that is overdue only because its wake-up job waits behind a backlog (a large fan-out) is
 * not lost: the recovery sweep must not add a duplicate job for it. A run whose job is gone is.
 */
describe('recovery sweep and a queue backlog (e2e)', () => {
  const schema = uniqueName('cf_backlog');
  const queueName = uniqueName('q_backlog');
  let app: INestApplicationContext;
  let queue: WorkflowQueue;

  const jobIds = async () =>
    (await queue.bullQueue.getJobs(['waiting', 'delayed', 'prioritized', 'active']))
      .map((j) => j.id)
      .sort();

  beforeAll(async () => {
    // No worker: jobs stay in the queue, like a backlog no worker has reached yet.
    app = await bootLedgerClient(schema, queueName);
    queue = app.get(WorkflowQueue);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should add no job for a run whose wake-up waits in the queue, and one for a run whose job is lost', async () => {
    await app.get(WorkflowClient).start('ledger.three', { key: 'queued', input: { steps: 1 } });
    const [run] = await sql<{ id: string; next_run_at: Date }>(
      `SELECT id::text AS id, next_run_at FROM "${schema}".chrono_forge_workflows WHERE key = 'queued'`,
    );
    const original = await jobIds();
    expect(original).toHaveLength(1);
    const overdue = { id: run.id, wake: run.next_run_at, stale: false };

    await queue.enqueueRecovered([overdue]);
    expect(await jobIds()).toEqual(original);

    // The wake-up job is lost (e.g. Redis flushed): the sweep enqueues one, once per window.
    await queue.bullQueue.remove(original[0] as string);
    await queue.enqueueRecovered([overdue]);
    const swept = await jobIds();
    expect(swept).toHaveLength(1);
    expect(swept[0]).toMatch(/^run-\d+-sweep\d+-\d+$/);
    await queue.enqueueRecovered([overdue]);
    expect(await jobIds()).toEqual(swept);

    // A stale lock is always swept: its job may be held `active` by a dead worker.
    await queue.enqueueRecovered([{ ...overdue, stale: true }]);
    expect(await jobIds()).toHaveLength(2);
  });
});
