import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BranchMergeJob, WorkflowClient, WorkflowQueue } from '../../lib/index.js';
import type { PollRecord } from '../../lib/branches/branch-merge.job.js';
import { EdgeProbe, edgeProviders } from '../fixtures/branch-edges.fixture.js';
import { bootLineItemsApp, childPrefix } from '../fixtures/branches.fixture.js';
import { eventually, sql, uniqueName } from '../support/env.js';

/**
 * Branch cases beyond branches.e2e: other spawn sources, merges of several branches, a branch
 * that throws after its spawns, children that wait, the poller's re-kick, and bad spawn/merge
 * arguments. The recovery sweeper is slowed down so only the merge poller re-kicks children.
 */
describe('branches: sources, re-runs, parked parents, re-kicks and bad arguments (e2e)', () => {
  const schema = uniqueName('cf_bre');
  const queueName = uniqueName('q_bre');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: EdgeProbe;
  let close: (() => Promise<void>) | undefined;

  const kids = (prefix: string) =>
    sql<{ id: string; key: string; state: string }>(
      `SELECT id::text, key, state FROM "${schema}".chrono_forge_workflows WHERE key LIKE $1 || '$%' ORDER BY key`,
      [prefix],
    );
  const branchLog = async (parentKey: string, branch: string) => {
    const [row] = await sql<{ id: string; metadata: Record<string, unknown> }>(
      `SELECT l.id::text, l.metadata FROM "${schema}".chrono_forge_execution_logs l
       JOIN "${schema}".chrono_forge_workflows w ON w.id = l.workflow_id
       WHERE w.key = $1 AND l.step_name = $2`,
      [parentKey, `branch$${branch}`],
    );
    return row;
  };

  beforeAll(async () => {
    ({ app, close } = await bootLineItemsApp({
      schema,
      queueName,
      providers: edgeProviders,
      options: { recovery: { every: '1h' } },
    }));
    client = app.get(WorkflowClient);
    probe = app.get(EdgeProbe);
  });

  afterAll(async () => {
    await close?.();
  });

  it('should walk an async iterable and a filtered query builder, and merge two branches in one step', async () => {
    const handle = await client.start('edge.two', { key: 'two' });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('both merged');
    const two = await childPrefix(schema, 'two');
    expect((await kids('two')).map((k) => k.key)).toEqual([
      ...['a', 'b', 'c', 'd', 'e'].map((_, i) => `${two}alpha$letter_${i}`),
      ...[1, 2, 3, 4, 5].map((id) => `${two}beta$row_${id}`),
    ]);
    expect((await client.get(`${two}alpha$letter_2`)).result).toBe('c');
    expect((await client.get(`${two}beta$row_4`)).result).toBe('sku-4');
    const run = await client.get('two');
    expect(run.steps.map((s) => s.name)).toEqual([
      'branch$beta',
      'branch$alpha',
      'merge$alpha,beta',
      '$workflow_completion$',
    ]);
    expect((await branchLog('two', 'beta')).metadata.cursors).toEqual({
      row: { n: 5, pk: 5, done: true },
    });
    expect((await branchLog('two', 'alpha')).metadata.cursors).toEqual({
      letter: { n: 5, done: true },
    });
    expect(run.branches.map((b) => [b.name, b.sealed, b.children]).sort()).toEqual([
      ['alpha', true, { completed: 5 }],
      ['beta', true, { completed: 5 }],
    ]);
  });

  it('should re-run a branch that threw without new children and without re-enqueuing completed ones', async () => {
    const jobs = app.get(WorkflowQueue);
    const original = jobs.enqueueChildren.bind(jobs);
    const enqueued: string[] = [];
    jobs.enqueueChildren = (children) => {
      enqueued.push(...children.map((c) => String(c.id)));
      return original(children);
    };
    // The branch throws once its three children completed; its re-run dispatches them again.
    probe.beforeThrow = async () => {
      await eventually(
        async () => (await kids('rethrow')).filter((k) => k.state === 'completed').length === 3,
        15_000,
        'three completed children',
      );
    };
    try {
      const handle = await client.start('edge.rethrow', { key: 'rethrow' });
      await expect(handle.result({ timeout: '20s' })).resolves.toBe('rethrown');
    } finally {
      jobs.enqueueChildren = original;
      probe.beforeThrow = null;
    }
    const children = await kids('rethrow');
    const rethrow = await childPrefix(schema, 'rethrow');
    expect(children.map((k) => k.key)).toEqual([
      `${rethrow}once$more_0`,
      `${rethrow}once$more_1`,
      `${rethrow}once$only`,
    ]);
    expect(probe.branchPasses.get('rethrow')).toBe(2);
    for (const k of children) expect(probe.childRuns.get(k.key)).toBe(1);
    expect(enqueued.sort()).toEqual(children.map((k) => k.id).sort());
    expect((await client.get('rethrow')).errors.map((e) => e.message)).toEqual([
      'branch failed after its spawns',
    ]);
  });

  it('should keep the parent parked while children wait, and merge once they are signalled', async () => {
    const handle = await client.start('edge.parked', { key: 'parked' });
    const w = `${await childPrefix(schema, 'parked')}waiters$w_`;
    await eventually(
      async () =>
        probe.childRuns.has(`${w}0`) &&
        probe.childRuns.has(`${w}1`) &&
        (await handle.status()) === 'idle' &&
        (await branchLog('parked', 'waiters')).metadata.poll !== undefined,
      15_000,
      'both children waiting and a poll recorded',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(await handle.status()).toBe('idle');
    expect((await branchLog('parked', 'waiters')).metadata.poll).toMatchObject({
      pending: 2,
      sealed: true,
    });
    await client.signal(`${w}0`, 'go', 'zero');
    await new Promise((r) => setTimeout(r, 500));
    expect(await handle.status()).toBe('idle');
    await client.signal(`${w}1`, 'go', 'one');
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('unparked');
    expect((await client.get(`${w}1`)).result).toBe('one');
  });

  it('should re-kick children that never started: at most 200 per poll, each once per 5 minutes', async () => {
    const queue = app.get(WorkflowQueue).bullQueue;
    // Merge polls have a queue of their own: paused too, so that the test drives the poller itself.
    const merges = app.get(WorkflowQueue).dedicatedQueue('merge');
    const runJobs = async () =>
      (await queue.getJobs(['waiting'])).filter((j) => j.name === 'run').length;
    let lost = 0;
    // The spawn's enqueues are lost (queued while paused, then drained), and the queue stays paused
    // so that the test drives the poller itself.
    probe.beforeSpawn = async () => {
      await merges.pause();
      await queue.pause();
    };
    probe.afterSpawn = async () => {
      lost = await runJobs();
      await queue.drain();
    };
    try {
      const handle = await client.start('edge.kick', { key: 'kick', input: { n: 250 } });
      await eventually(
        async () =>
          (await handle.status()) === 'idle' &&
          typeof (await branchLog('kick', 'kicked'))?.metadata.poll_token === 'string',
        15_000,
        'the parent halted at its merge',
      );
      expect(lost).toBe(250);
      expect(await runJobs()).toBe(0);
      const { id: logId, metadata } = await branchLog('kick', 'kicked');
      const [parent] = await sql<{ id: string }>(
        `SELECT id::text FROM "${schema}".chrono_forge_workflows WHERE key = 'kick'`,
      );
      const data = {
        parentId: parent.id,
        branchLogIds: [logId],
        minMs: 50,
        maxMs: 200,
        token: metadata.poll_token as string,
      };
      const poller = app.get(BranchMergeJob);
      const pollOnce = async () => {
        await poller.poll(data);
        return (await branchLog('kick', 'kicked')).metadata.poll as PollRecord;
      };
      // Younger than 5 minutes: nothing is re-kicked.
      expect((await pollOnce()).rekicked).toBe(0);
      await sql(
        `UPDATE "${schema}".chrono_forge_workflows SET updated_at = now() - interval '6 minutes'
         WHERE key LIKE 'kick$%'`,
      );
      const polls = [await pollOnce(), await pollOnce(), await pollOnce()];
      expect(polls.map((p) => p.rekicked)).toEqual([200, 50, 0]);
      expect(polls.map((p) => p.never_started)).toEqual([250, 250, 250]);
      expect(polls[2].rekick_total).toBe(250);
      for (const p of polls) {
        expect(p.interval).toBeGreaterThanOrEqual(50);
        expect(p.interval).toBeLessThanOrEqual(200);
      }
      expect(await runJobs()).toBe(250);
      probe.beforeSpawn = null;
      probe.afterSpawn = null;
      await queue.resume();
      await merges.resume();
      await expect(handle.result({ timeout: '30s' })).resolves.toBe('kicked');
    } finally {
      probe.beforeSpawn = null;
      probe.afterSpawn = null;
      if (await queue.isPaused()) await queue.resume();
      if (await merges.isPaused()) await merges.resume();
    }
    const children = await kids('kick');
    expect(children).toHaveLength(250);
    expect(children.every((k) => k.state === 'completed')).toBe(true);
    for (const k of children) expect(probe.childRuns.get(k.key)).toBe(1);
  });

  it('should refuse a child input its DTO rejects before inserting any child of the batch', async () => {
    const handle = await client.start('edge.badInput', { key: 'bad-input' });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/InputValidationError|count/);
    expect(await kids('bad-input')).toEqual([]);
  });

  it.each([
    ['edge.ordered', /ORDER BY/],
    ['edge.badOf', /`of` must be an integer/],
    ['edge.badSource', /source must be an array/],
    ['edge.unknownChild', /no workflow "edge\.nope"/],
    ['edge.mergeMinMax', /minInterval \(2000 ms\) exceeds maxInterval \(1000 ms\)/],
    ['edge.mergeComma', /contains ","/],
    ['edge.mergeDollar', /contains "\$"/],
    ['edge.mergeNone', /at least one branch/],
  ])('should fail "%s" with a named error and no children', async (workflow, message) => {
    const key = `err-${workflow}`;
    const handle = await client.start(workflow, { key });
    const error = await handle.result({ timeout: '15s' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(message);
    const [last] = (await client.get(key)).errors.slice(-1);
    expect(last.errorClass).toMatch(/InvalidOptionsError|ReservedNameError|WorkflowNotFoundError/);
    expect(await kids(key)).toEqual([]);
  });
});
