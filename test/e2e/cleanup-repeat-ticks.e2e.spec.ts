import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ChronoForgeOperationsModule,
  Cleanup,
  Repeat,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { eventually, sql } from '../support/env.js';
import { cleanupSeed, daysAgo } from './cleanup.seed.js';
import { suiteApp } from '../support/suite.js';

/** Records the scheduled time of every tick, per run key. */
@Injectable()
class TickProbe {
  readonly ticks = new Map<string, number[]>();
  count(key: string): number {
    return this.ticks.get(key)?.length ?? 0;
  }
}

@Injectable()
class Heartbeat {
  constructor(private readonly probe: TickProbe) {}

  done(input: { key: string; stopAfter: number }): boolean {
    return this.probe.count(input.key) >= input.stopAfter;
  }

  @Repeat('150ms', { till: 'done' })
  async beat(input: { key: string; stopAfter: number }, scheduledAt = new Date()): Promise<void> {
    this.probe.ticks.set(input.key, [
      ...(this.probe.ticks.get(input.key) ?? []),
      scheduledAt.getTime(),
    ]);
  }
}

@Injectable()
class BeatWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly heartbeat: Heartbeat,
  ) {}

  @Workflow('cleanup.beat')
  async beat(input: { stopAfter: number }): Promise<string> {
    await this.heartbeat.beat({ key: this.ctx.key, stopAfter: input.stopAfter });
    return 'done';
  }
}

/** chrono_forge's repetition-log pruning cases (frontier + scheduled-time window) and its safety test. */
describe('Cleanup: repeat tick pruning (e2e)', () => {
  const suite = suiteApp('prune', [TickProbe, Heartbeat, BeatWorkflow], {
    imports: [ChronoForgeOperationsModule],
  });
  const { schema } = suite;
  const seed = cleanupSeed(schema);
  const { wf, logs, makeRun, coordination, tick, logExists } = seed;
  let app: INestApplicationContext;
  let cleaner: Cleanup;

  beforeAll(async () => {
    app = suite.app;
    cleaner = app.get(Cleanup);
  });

  beforeEach(() => seed.reset());

  it('should not prune ticks unless asked to', async () => {
    const run = await makeRun('running', null);
    await coordination(run, 'task', daysAgo(365));
    const old = await tick(run, 'task', daysAgo(730), 'completed');
    await cleaner.run({ olderThan: '30d' });
    expect(await logExists(old)).toBe(true);
  });

  it('should prune only terminal ticks strictly behind the frontier', async () => {
    const run = await makeRun('running', null);
    const frontier = daysAgo(30);
    const coord = await coordination(run, 'task', frontier);
    const behind = await tick(run, 'task', daysAgo(31), 'completed');
    const failedBehind = await tick(run, 'task', daysAgo(33), 'failed');
    const atFrontier = await tick(run, 'task', frontier, 'completed');
    const ahead = await tick(run, 'task', daysAgo(29), 'completed');
    const pending = await tick(run, 'task', daysAgo(32), 'pending');
    const result = await cleaner.run({ olderThan: '365d', pruneRepeatTicksOlderThan: '7d' });
    expect(await logExists(behind)).toBe(false);
    expect(await logExists(failedBehind)).toBe(false);
    for (const kept of [atFrontier, ahead, pending, coord])
      expect(await logExists(kept)).toBe(true);
    expect(result.repeatTicks).toBe(2);
  });

  it('should not prune a repeat that has no frontier yet', async () => {
    const run = await makeRun('running', null);
    await coordination(run, 'task', null);
    const rep = await tick(run, 'task', daysAgo(365), 'completed');
    await cleaner.run({ olderThan: '365d', pruneRepeatTicksOlderThan: '7d' });
    expect(await logExists(rep)).toBe(true);
  });

  it('should judge a catch-up tick by its scheduled time, not its created_at', async () => {
    const run = await makeRun('running', null);
    await coordination(run, 'task', daysAgo(1));
    const caughtUp = await tick(run, 'task', daysAgo(365), 'completed', 0);
    const recentOldRow = await tick(run, 'task', daysAgo(2), 'completed', 60);
    const result = await cleaner.run({ olderThan: '365d', pruneRepeatTicksOlderThan: '30d' });
    expect(await logExists(caughtUp)).toBe(false);
    expect(await logExists(recentOldRow)).toBe(true);
    expect(result.repeatTicks).toBe(1);
  });

  it('should prune across several batches, and never touch another repeat sharing a prefix', async () => {
    const run = await makeRun('running', null);
    await coordination(run, 'task', daysAgo(1));
    await coordination(run, 'task_2', null);
    const behind = await Promise.all(
      Array.from({ length: 7 }, (_, i) => tick(run, 'task', daysAgo(10 + i), 'completed')),
    );
    const pending = await tick(run, 'task', daysAgo(50), 'pending');
    const other = await tick(run, 'task_2', daysAgo(50), 'completed');
    const result = await cleaner.run({
      olderThan: '365d',
      pruneRepeatTicksOlderThan: '1d',
      batchSize: 2,
    });
    expect(result.repeatTicks).toBe(7);
    for (const id of behind) expect(await logExists(id)).toBe(false);
    expect(await logExists(pending)).toBe(true);
    expect(await logExists(other)).toBe(true);
  });

  it('should never re-run a pruned occurrence, and the repeat still completes', async () => {
    const probe = app.get(TickProbe);
    const handle = await app
      .get(WorkflowClient)
      .start('cleanup.beat', { key: 'beat-1', input: { stopAfter: 8 } });
    await eventually(async () => probe.count('beat-1') >= 3, 10_000, 'three ticks');
    const before = [...(probe.ticks.get('beat-1') ?? [])];
    const result = await cleaner.run({ olderThan: '365d', pruneRepeatTicksOlderThan: 0 });
    expect(result.repeatTicks).toBeGreaterThanOrEqual(1);
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('done');
    const after = probe.ticks.get('beat-1') ?? [];
    expect(after).toHaveLength(8);
    expect(new Set(after).size).toBe(8);
    expect(after.slice(0, before.length)).toEqual(before);
    const coord = await sql(`SELECT 1 FROM ${logs} l JOIN ${wf} w ON w.id = l.workflow_id
      WHERE w.key = 'beat-1' AND l.step_name = 'durably_repeat$beat'`);
    expect(coord).toHaveLength(1);
  });
});
