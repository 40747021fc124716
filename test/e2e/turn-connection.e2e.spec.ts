import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ChronoForgeDatabase,
  DurableStep,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, uniqueName } from '../support/env.js';

/** What the step bodies saw of the engine's pool (one process: the test's app). */
const seen = { checkedOutWhileAwaiting: [] as number[] };

@Injectable()
class TurnConnectionWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly db: ChronoForgeDatabase,
  ) {}

  /** `n` sequential no-op steps: each checkpoint follows the previous one in the same turn. */
  @Workflow('turnConn.sequential')
  async sequential(input: { n: number }): Promise<number> {
    let sum = 0;
    for (let i = 0; i < input.n; i++) sum += await this.noop(i);
    return sum;
  }

  @DurableStep()
  async noop(i: number): Promise<number> {
    return i;
  }

  /** A body that awaits a timer after a checkpoint: the pass must hold no connection meanwhile. */
  @Workflow('turnConn.awaiting')
  async awaiting(): Promise<number> {
    await this.noop(1);
    return this.waits();
  }

  @DurableStep()
  async waits(): Promise<number> {
    // NOTE: the fewest connections checked out over a few samples: the recovery sweep may hold
    // one for a moment; a connection this pass kept would show in every sample.
    const { pool } = this.db;
    let fewest = Infinity;
    for (let i = 0; i < 5; i++) {
      await delay(5);
      fewest = Math.min(fewest, pool.totalCount - pool.idleCount);
    }
    seen.checkedOutWhileAwaiting.push(fewest);
    return 2;
  }

  /** Everything that takes connections at once, on a pool smaller than the worker's concurrency. */
  @Workflow('turnConn.mixed')
  async mixed(input: { n: number }): Promise<number[]> {
    const first = await this.noop(input.n);
    const parallel = await Promise.all([this.noop(input.n + 1), this.booked(input.n), this.slow()]);
    this.ctx.state.set('after', first);
    const last = await this.noop(input.n + 2);
    return [first, ...parallel, last];
  }

  @DurableStep({ transactional: true })
  async booked(n: number): Promise<number> {
    const [row] = (await this.ctx.manager.query('SELECT $1::int * 10 AS v', [n])) as {
      v: number;
    }[];
    return row.v;
  }

  @DurableStep()
  async slow(): Promise<number> {
    await delay(5);
    return -1;
  }
}

/**
 * A pass keeps the pooled connection of its last checkpoint until the end of the event-loop turn
 * (issue #22): checkpoints that follow each other take no new pool checkout, and the connection
 * goes back to the pool before anything awaits I/O, so small pools never deadlock.
 */
describe('the connection a pass keeps within a turn (e2e)', () => {
  const schema = uniqueName('cf_turnc');
  const queueName = uniqueName('q_turnc');
  let app: INestApplicationContext | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(() => cleanup(schema, queueName));

  it('should check out far fewer connections than checkpoints for sequential steps', async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: [TurnConnectionWorkflow],
      // NOTE: no recovery sweep: its statements would count too on a slow (loaded) machine.
      options: { worker: { concurrency: 1 }, recovery: false },
    });
    const client = app.get(WorkflowClient);
    const { pool } = app.get(ChronoForgeDatabase);
    let checkouts = 0;
    const count = () => checkouts++;
    pool.on('acquire', count);
    try {
      const handle = await client.start('turnConn.sequential', { key: 'seq', input: { n: 100 } });
      await expect(handle.result({ timeout: '20s' })).resolves.toBe((99 * 100) / 2);
    } finally {
      pool.off('acquire', count);
    }
    // 100 checkpoints: before, each took its own checkout (over 100 in all, with the pass's other
    // statements); now the pass takes a few, and result() polls take the rest (13 on a loaded
    // machine), whose number grows with the run's duration: half the checkpoints as the bound.
    expect(checkouts).toBeLessThan(50);
  });

  it('should hold no connection while a step body awaits', async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: [TurnConnectionWorkflow],
      options: { worker: { concurrency: 1 } },
    });
    const client = app.get(WorkflowClient);
    seen.checkedOutWhileAwaiting = [];
    const handle = await client.start('turnConn.awaiting', { key: 'await' });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe(2);
    expect(seen.checkedOutWhileAwaiting).toEqual([0]);
  });

  it('should run parallel, transactional and state-writing steps on a pool of one connection', async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: [TurnConnectionWorkflow],
      options: {
        worker: { concurrency: 4 },
        database: { url: DATABASE_URL, schema, poolSize: 1 },
      },
    });
    const client = app.get(WorkflowClient);
    const handles = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) => client.start('turnConn.mixed', { key: `m${n}`, input: { n } })),
    );
    const results = await Promise.all(handles.map((h) => h.result({ timeout: '30s' })));
    expect(results).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, n + 1, n * 10, -1, n + 2]));
  });
});
