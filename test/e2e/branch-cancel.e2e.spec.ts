import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, WorkflowQueue } from '../../lib/index.js';
import { cancelProviders } from '../fixtures/branch-cancel.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/**
 * Cancellation and merges: a cancelled child fails its parent's merge with CancelledChildError
 * (which the workflow may catch), and a merge poller stops once its parent is no longer idle or
 * running (cancelled, failed, stalled, completed).
 */
describe('branches: cancelled children and pollers of finished parents (e2e)', () => {
  const suite = suiteApp('brc', cancelProviders);
  const { schema } = suite;
  let app: INestApplicationContext;
  let client: WorkflowClient;

  const wf = `"${schema}".chrono_forge_workflows`;
  const parentId = async (key: string) =>
    (await sql<{ id: string }>(`SELECT id::text FROM ${wf} WHERE key = $1`, [key]))[0].id;
  const childKey = (key: string, workflow: string, n: number) =>
    `${key}$${workflow}$waiters$w_${n}`;
  /** Polls recorded on the parent's branch log so far. */
  const polls = async (key: string) => {
    const [row] = await sql<{ polls: number | null }>(
      `SELECT (l.metadata->'poll'->>'polls')::int AS polls FROM "${schema}".chrono_forge_execution_logs l
       JOIN ${wf} w ON w.id = l.workflow_id WHERE w.key = $1 AND l.step_name = 'branch$waiters'`,
      [key],
    );
    return row?.polls ?? 0;
  };
  /** Merge jobs of the parent still queued or running. */
  const mergeJobs = async (key: string) => {
    const id = await parentId(key);
    const jobs = await app
      .get(WorkflowQueue)
      .dedicatedQueue('merge')
      .getJobs(['waiting', 'delayed', 'active', 'prioritized']);
    return jobs.filter(
      (j) => j.name === 'merge' && (j.data as { parentId: string }).parentId === id,
    ).length;
  };
  /** Starts `workflow` and waits until both children wait and the poller has polled twice. */
  const parkedParent = async (workflow: string, key: string) => {
    const handle = await client.start(workflow, { key });
    await eventually(
      async () =>
        (await handle.status()) === 'idle' &&
        (await polls(key)) >= 2 &&
        (await client.get(childKey(key, workflow, 1), { workflow: 'cancel.waiter' })).state ===
          'idle',
      15_000,
      `${key} parked on its merge`,
    );
    return handle;
  };
  /** The parent's poller has no job left, and records no further poll. */
  const expectPollerStopped = async (key: string) => {
    await eventually(async () => (await mergeJobs(key)) === 0, 10_000, `no merge job of ${key}`);
    const stoppedAt = await polls(key);
    await new Promise((r) => setTimeout(r, 500)); // more than two poll intervals (200 ms)
    expect(await mergeJobs(key)).toBe(0);
    expect(await polls(key)).toBe(stoppedAt);
  };

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
  });

  it('should fail the merge with CancelledChildError once a child is cancelled, and stop polling', async () => {
    const handle = await parkedParent('cancel.parked', 'pc');
    const cancelled = childKey('pc', 'cancel.parked', 0);
    await client.cancel(cancelled);
    const error = await handle.result({ timeout: '15s' }).catch((e: Error) => e);
    expect((error as Error).message).toContain(
      `merge(waiters): 1 child run(s) were cancelled and will never complete: "${cancelled}"`,
    );
    const run = await client.get('pc');
    expect(run.state).toBe('failed');
    expect(run.errors.map((e) => e.errorClass)).toEqual(['CancelledChildError']);
    await expectPollerStopped('pc');
    // The other child is left as it was.
    expect((await client.get(childKey('pc', 'cancel.parked', 1))).state).toBe('idle');
  });

  it('should let the workflow catch CancelledChildError and complete', async () => {
    const handle = await parkedParent('cancel.caught', 'cc');
    const cancelled = childKey('cc', 'cancel.caught', 1);
    await client.cancel(cancelled);
    await expect(handle.result({ timeout: '15s' })).resolves.toBe(`handled 1: ${cancelled}`);
    await expectPollerStopped('cc');
  });

  it.each([
    ['cancelled', (key: string) => client.cancel(key)],
    ['failed', (key: string) => sql(`UPDATE ${wf} SET state = 'failed' WHERE key = $1`, [key])],
    ['stalled', (key: string) => sql(`UPDATE ${wf} SET state = 'stalled' WHERE key = $1`, [key])],
    [
      'completed',
      (key: string) =>
        sql(`UPDATE ${wf} SET state = 'completed', completed_at = now() WHERE key = $1`, [key]),
    ],
  ])('should stop the merge poller of a %s parent', async (state, finish) => {
    const key = `p-${state}`;
    await parkedParent('cancel.parked', key);
    await finish(key);
    await expectPollerStopped(key);
    expect((await client.get(key)).state).toBe(state);
  });
});
