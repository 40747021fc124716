import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BranchMergeJob,
  ChronoForgeDatabase,
  WorkflowClient,
  WorkflowQueue,
} from '../../lib/index.js';
import { PgCounter, type StatementEvent } from '../../bench/pg-counter.js';
import {
  bootLineItemsApp,
  childPrefix,
  FanProbe,
  fanProviders,
} from '../fixtures/branches.fixture.js';
import { eventually, sql, uniqueName } from '../support/env.js';

describe('branches: spawn, spawnEach, merge (e2e)', () => {
  const schema = uniqueName('cf_br');
  const queueName = uniqueName('q_br');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: FanProbe;
  let close: (() => Promise<void>) | undefined;

  const children = (prefix: string) =>
    sql<{ key: string; state: string; started_at: Date | null }>(
      `SELECT key, state, started_at FROM "${schema}".chrono_forge_workflows WHERE key LIKE $1 || '$%' ORDER BY id`,
      [prefix],
    );

  beforeAll(async () => {
    ({ app, close } = await bootLineItemsApp({
      schema,
      queueName,
      providers: fanProviders,
    }));
    client = app.get(WorkflowClient);
    probe = app.get(FanProbe);
  });

  afterAll(async () => {
    await close?.();
  });

  it('should resume the parent after all children complete, in a constant number of passes', async () => {
    const handle = await client.start('fan.parent', { key: 'p-1', input: { n: 20, of: 3 } });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('merged');
    const kids = await children('p-1');
    expect(kids).toHaveLength(21);
    expect(kids.every((k) => k.state === 'completed')).toBe(true);
    const prefix = await childPrefix(schema, 'p-1');
    expect(kids[0].key).toBe(`${prefix}lines$notify_0`);
    expect(kids[20].key).toBe(`${prefix}lines$summary`);
    expect(probe.parentPasses.get('p-1')).toBeLessThanOrEqual(3);
    const run = await client.get('p-1');
    const branch = run.steps.find((s) => s.name === 'branch$lines');
    expect(branch?.state).toBe('completed');
    expect(branch?.metadata).toMatchObject({ cursors: { notify: { n: 20, done: true } } });
    expect(run.steps.map((s) => s.name)).toContain('merge$lines');
    expect(run.branches).toEqual([
      expect.objectContaining({ name: 'lines', sealed: true, children: { completed: 21 } }),
    ]);
  });

  it('should resume spawnEach from its cursor after a crash mid-way without duplicate children', async () => {
    probe.crashAtItem = 7;
    const handle = await client.start('fan.parent', { key: 'p-crash', input: { n: 12, of: 3 } });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('merged');
    const kids = await children('p-crash');
    expect(kids).toHaveLength(13);
    expect(new Set(kids.map((k) => k.key)).size).toBe(13);
    const run = await client.get('p-crash');
    expect(run.errors.map((e) => e.message)).toEqual(['crash while mapping item 7']);
    for (const k of kids) expect(probe.childRuns.get(k.key)).toBe(1);
  });

  it('should merge on seal with automerge', async () => {
    const handle = await client.start('fan.auto', { key: 'p-auto' });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('auto-merged');
    expect((await client.get('p-auto')).steps.map((s) => s.name)).toEqual([
      'branch$autoLines',
      'merge$autoLines',
      '$workflow_completion$',
    ]);
  });

  it('should walk a TypeORM repository by primary key', async () => {
    const handle = await client.start('fan.repo', { key: 'p-repo' });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('table merged');
    const kids = await children('p-repo');
    const prefix = await childPrefix(schema, 'p-repo');
    expect(kids.map((k) => k.key)).toEqual(
      Array.from({ length: 10 }, (_, i) => `${prefix}fromTable$item_${i + 1}`),
    );
    expect(
      (await client.get('p-repo')).steps.find((s) => s.name === 'branch$fromTable')?.metadata,
    ).toMatchObject({
      cursors: { item: { n: 10, pk: 10, done: true } },
    });
  });

  it('should recover children whose enqueue was lost after their insert, without duplicates', async () => {
    // Persist before enqueue: with the queue paused, every job spawnEach adds stays queued, and the
    // test then deletes them all, as a crash between the insert and the enqueue (or a lost Redis)
    // would. The recovery sweeper must re-enqueue the persisted, never-started children.
    const queue = app.get(WorkflowQueue).bullQueue;
    let lost = 0;
    probe.beforeSpawn = () => queue.pause();
    probe.afterSpawn = async () => {
      const waiting = await queue.getJobs(['waiting']);
      lost = waiting.filter((j) => j.name === 'run').length;
      await queue.drain();
      await queue.resume();
    };
    try {
      const handle = await client.start('fan.lost', { key: 'p-lost', input: { n: 10 } });
      await expect(handle.result({ timeout: '20s' })).resolves.toBe('recovered');
    } finally {
      probe.beforeSpawn = null;
      probe.afterSpawn = null;
      if (await queue.isPaused()) await queue.resume();
    }
    expect(lost).toBe(10);
    const kids = await children('p-lost');
    expect(kids).toHaveLength(10);
    expect(kids.every((k) => k.state === 'completed')).toBe(true);
    for (const k of kids) expect(probe.childRuns.get(k.key)).toBe(1);
  });

  it('should keep the parent parked while a child failed, and wake it once the child is retried', async () => {
    probe.failing.add(2);
    const handle = await client.start('fan.parent', { key: 'p-park', input: { n: 4, of: 10 } });
    await eventually(
      async () => (await children('p-park')).some((k) => k.state === 'failed'),
      15_000,
      'a failed child',
    );
    await new Promise((r) => setTimeout(r, 600));
    expect(await handle.status()).toBe('idle');
    const poll = (await client.get('p-park')).steps.find((s) => s.name === 'branch$lines')?.metadata
      .poll as { pending: number };
    expect(poll.pending).toBe(1);
    probe.failing.delete(2);
    await client.retry(`${await childPrefix(schema, 'p-park')}lines$notify_2`);
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('merged');
  });

  it('should stop a superseded poller silently', async () => {
    const run = await client.get('p-1');
    const branch = run.steps.find((s) => s.name === 'branch$lines');
    const [{ id }] = await sql<{ id: string }>(
      `SELECT id::text FROM "${schema}".chrono_forge_execution_logs WHERE workflow_id = $1 AND step_name = 'branch$lines'`,
      [run.id],
    );
    expect(branch).toBeDefined();
    const merges = app.get(WorkflowQueue).dedicatedQueue('merge');
    const before = await merges.getJobCounts('delayed', 'waiting');
    await app
      .get(BranchMergeJob)
      .poll({ parentId: run.id, branchLogIds: [id], minMs: 10, maxMs: 10, token: 'stale-token' });
    expect(await merges.getJobCounts('delayed', 'waiting')).toEqual(before);
  });

  it('should replay a sealed, merged branch without writes and in as many statements for 200 children as for 5', async () => {
    // Every statement the engine sends through its pool (a wrapper around pool.connect; real queries).
    const events: StatementEvent[] = [];
    PgCounter.attach(app.get(ChronoForgeDatabase).pool).on((e) => events.push(e));
    // Periodic statements of this process that belong to no pass: worker heartbeat, recovery sweep,
    // the schedule ticker's poll and the limits' sweep (both run every second or so).
    const background = (e: StatementEvent) =>
      e.label === 'sweep' ||
      /^\s*(INSERT INTO|UPDATE|DELETE FROM) \S+\.chrono_forge_workers/.test(e.text) ||
      /\.chrono_forge_(schedules|limit_keys|limit_slots|limits)\b/.test(e.text);
    const lastPass = async (n: number) => {
      const key = `p-replay-${n}`;
      await client.start('fan.replay', { key, input: { n } });
      // Waits on its own connection: the client's result polling would share the engine's pool.
      await eventually(
        async () =>
          (
            await sql<{ state: string }>(
              `SELECT state FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
              [key],
            )
          )[0]?.state === 'completed',
        30_000,
        `${key} completed`,
      );
      const run = await client.get(key);
      expect(run.result).toBe('replayed');
      expect(run.branches).toEqual([
        expect.objectContaining({ name: 'many', sealed: true, children: { completed: n } }),
      ]);
      // The pass after the sleep: from the parent's last lock acquisition to its completion.
      const ofParent = (e: StatementEvent) => e.runId === run.id;
      const acquired = events
        .filter((e) => e.label === 'acquire' && ofParent(e) && e.rowCount === 1)
        .at(-1);
      const completed = events.find((e) => e.label === 'complete' && ofParent(e));
      expect(acquired && completed).toBeTruthy();
      // A second job of the same wake may bounce off the held lock meanwhile (an acquire that
      // returns no row, then 'acquire-busy'): that is not the replay pass.
      const bounced = (e: StatementEvent) =>
        ofParent(e) && (e.label === 'acquire-busy' || (e.label === 'acquire' && e.rowCount === 0));
      const pass = events.filter(
        (e) =>
          e.start >= acquired!.start &&
          e.start <= completed!.start &&
          !background(e) &&
          !bounced(e),
      );
      // Nothing about the branch or its children was written since the pass that sealed/merged it.
      const [written] = await sql<{ logs: number; children: number }>(
        `SELECT (SELECT count(*)::int FROM "${schema}".chrono_forge_execution_logs
                 WHERE workflow_id = $1 AND step_name IN ('branch$many', 'merge$many')
                   AND updated_at >= $2) AS logs,
                (SELECT count(*)::int FROM "${schema}".chrono_forge_workflows
                 WHERE parent_execution_log_id = (SELECT id FROM "${schema}".chrono_forge_execution_logs
                   WHERE workflow_id = $1 AND step_name = 'branch$many') AND updated_at >= $2) AS children`,
        [run.id, new Date(acquired!.sentAt)],
      );
      expect(written).toEqual({ logs: 0, children: 0 });
      return pass;
    };
    const small = await lastPass(5);
    const large = await lastPass(200);
    // The replay reads every step log with the lock (the same statement completes the due wait
    // step), skips the sealed branch and the completed merge, and completes the run: the same two
    // statements for 5 or 200 children.
    const labels = (pass: StatementEvent[]) => pass.map((e) => e.label);
    expect(labels(small)).toEqual(['acquire', 'complete']);
    expect(labels(large)).toEqual(labels(small));
    // No step write, never the branch's or the merge's (the wait step's was the acquire's).
    const stepWrites = large.filter((e) => e.label === 'completeStep').map((e) => e.values[2]);
    expect(stepWrites).toEqual([]);
  });

  it.each([
    ['fan.unmerged', 'UnmergedBranchError'],
    ['fan.outside', 'NotInBranchError'],
    ['fan.nested', 'NestedBranchError'],
    ['fan.unknown', 'UnknownBranchError'],
  ])('should fail "%s" with %s', async (workflow, errorClass) => {
    const handle = await client.start(workflow, { key: `err-${workflow}` });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(errorClass);
  });
});
