import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Branch,
  ChronoForgeOperationsModule,
  Cleanup,
  RetryPolicy,
  Workflow,
  WorkflowContext,
} from '../../lib/index.js';
import { eventually, sql } from '../support/env.js';
import { cleanupSeed } from './cleanup.seed.js';
import { suiteApp } from '../support/suite.js';

/** A parent whose one child fails until `Flaky.fixed` is set. */
@Injectable()
class Flaky {
  static fixed = false;

  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('cleanc.parent')
  async parent(): Promise<string> {
    await this.kids();
    await this.ctx.merge('kids', { minInterval: '50ms', maxInterval: '200ms' });
    return 'merged';
  }

  @Branch()
  async kids(): Promise<void> {
    await this.ctx.spawn('only', { workflow: 'cleanc.child' });
  }

  @Workflow('cleanc.child', { retry: new RetryPolicy({ maxAttempts: 1 }) })
  async child(): Promise<string> {
    if (!Flaky.fixed) throw new Error('not yet');
    return 'fixed';
  }
}

/**
 * Cleanup and branch children: an old terminal child is deleted only once its parent cannot merge
 * it any more (parent completed or cancelled, or the merge of its branch completed).
 */
describe('Cleanup: children of live parents (e2e)', () => {
  const suite = suiteApp('cleanc', [Flaky], { imports: [ChronoForgeOperationsModule] });
  const { schema } = suite;
  const seed = cleanupSeed(schema);
  const { wf, logs, makeRun, runExists } = seed;
  let app: INestApplicationContext;
  let cleaner: Cleanup;

  /** A parent in `parentState` with branch `lines` (and the given step logs) and one old child. */
  const family = async (parentState: string, childState: string, steps: string[] = []) => {
    const parent = await makeRun(parentState, 1, 1);
    const [branch] = await sql<{ id: string }>(
      `INSERT INTO ${logs} (workflow_id, step_name, state) VALUES ($1, 'branch$lines', 'completed')
       RETURNING id`,
      [parent],
    );
    for (const step of steps) {
      const [name, state] = step.split(' ');
      await sql(`INSERT INTO ${logs} (workflow_id, step_name, state) VALUES ($1, $2, $3)`, [
        parent,
        name,
        state,
      ]);
    }
    const child = await makeRun(childState, 40, 40);
    await sql(`UPDATE ${wf} SET parent_execution_log_id = $2 WHERE id = $1`, [child, branch.id]);
    return { parent, child };
  };

  beforeAll(async () => {
    app = suite.app;
    cleaner = app.get(Cleanup);
  });

  beforeEach(() => seed.reset());

  it.each([
    ['idle', 'failed', []],
    ['idle', 'cancelled', []],
    ['idle', 'completed', ['merge$lines pending']],
    ['running', 'failed', ['merge$lines pending']],
    ['stalled', 'failed', []],
    ['failed', 'failed', ['merge$lines pending']],
    ['idle', 'completed', ['merge$lines,other failed', 'merge$other completed']],
  ])(
    'should keep an old child while its parent may merge it: parent %s, child %s, steps %j',
    async (parentState, childState, steps) => {
      const { parent, child } = await family(parentState, childState, steps);
      expect((await cleaner.run({ olderThan: '30d' })).workflows).toBe(0);
      expect(await runExists(child)).toBe(true);
      expect(await runExists(parent)).toBe(true);
    },
  );

  it.each([
    ['completed', 'failed', []],
    ['cancelled', 'completed', []],
    ['idle', 'failed', ['merge$lines completed']],
    ['running', 'completed', ['merge$alpha,lines completed']],
    ['failed', 'cancelled', ['merge$lines completed']],
  ])(
    'should delete an old child once its parent cannot merge it: parent %s, child %s, steps %j',
    async (parentState, childState, steps) => {
      const { parent, child } = await family(parentState, childState, steps);
      expect((await cleaner.run({ olderThan: '30d' })).workflows).toBe(1);
      expect(await runExists(child)).toBe(false);
      expect(await runExists(parent)).toBe(true);
    },
  );

  it('should keep the old failed child of a parked parent, which merges it once retried', async () => {
    const client = suite.client;
    const handle = await client.start('cleanc.parent', { key: 'parked' });
    const childKey = 'parked$cleanc.parent$kids$only';
    await eventually(
      async () =>
        (await handle.status()) === 'idle' &&
        (await client.get(childKey).catch(() => null))?.state === 'failed',
      15_000,
      'a parked parent and its failed child',
    );
    await sql(
      `UPDATE ${wf} SET updated_at = now() - interval '40 days', finished_at = now() - interval '40 days' WHERE key = $1`,
      [childKey],
    );
    expect((await cleaner.run({ olderThan: '30d' })).workflows).toBe(0);
    // The child's failure also wakes the parent (pushed fan-in): a pass may still be running, and
    // it parks the parent again.
    await eventually(async () => (await handle.status()) === 'idle', 15_000, 'the parked parent');
    Flaky.fixed = true;
    await client.retry(childKey);
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('merged');
    expect((await client.get('parked')).branches).toEqual([
      expect.objectContaining({ name: 'kids', children: { completed: 1 } }),
    ]);
  });

  it('should delete the child of a deleted parent in the same run', async () => {
    const { parent, child } = await family('failed', 'failed');
    await sql(
      `UPDATE ${wf} SET updated_at = now() - interval '40 days', finished_at = now() - interval '40 days' WHERE id = $1`,
      [parent],
    );
    expect((await cleaner.run({ olderThan: '30d', batchSize: 1 })).workflows).toBe(2);
    expect(await runExists(parent)).toBe(false);
    expect(await runExists(child)).toBe(false);
  });
});
