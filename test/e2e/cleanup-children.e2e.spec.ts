import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChronoForgeOperationsModule, Cleanup } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';
import { cleanupSeed } from './cleanup.seed.js';

/**
 * Cleanup and branch children: an old terminal child is deleted only once its parent cannot merge
 * it any more (parent completed or cancelled, or the merge of its branch completed).
 */
describe('Cleanup: children of live parents (e2e)', () => {
  const schema = uniqueName('cf_cleanc');
  const queueName = uniqueName('q_cleanc');
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
    app = await bootApp({ schema, queueName, imports: [ChronoForgeOperationsModule] });
    cleaner = app.get(Cleanup);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
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

  it('should delete the child of a deleted parent in the same run', async () => {
    const { parent, child } = await family('failed', 'failed');
    await sql(`UPDATE ${wf} SET updated_at = now() - interval '40 days' WHERE id = $1`, [parent]);
    expect((await cleaner.run({ olderThan: '30d', batchSize: 1 })).workflows).toBe(2);
    expect(await runExists(parent)).toBe(false);
    expect(await runExists(child)).toBe(false);
  });
});
