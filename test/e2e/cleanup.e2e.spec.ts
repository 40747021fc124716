import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ChronoForgeOperationsModule,
  Cleanup,
  InvalidOptionsError,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { sql } from '../support/env.js';
import { cleanupSeed } from './cleanup.seed.js';
import { suiteApp } from '../support/suite.js';

@Injectable()
class EchoWorkflow {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('cleanup.echo')
  async echo(input: { n: number }): Promise<number> {
    return this.ctx.step('double', async () => input.n * 2);
  }
}

/** chrono_forge's cleanup cases for terminal runs, against real PostgreSQL. */
describe('Cleanup: terminal runs (e2e)', () => {
  const suite = suiteApp('clean', [EchoWorkflow], { imports: [ChronoForgeOperationsModule] });
  const { schema } = suite;
  const seed = cleanupSeed(schema);
  const { wf, logs, makeRun, addLogs, runExists } = seed;
  let app: INestApplicationContext;
  let cleaner: Cleanup;

  beforeAll(async () => {
    app = suite.app;
    cleaner = app.get(Cleanup);
  });

  beforeEach(() => seed.reset());

  it('should delete old completed and failed runs with their logs and errors', async () => {
    const done = await makeRun('completed', 40);
    const failed = await makeRun('failed', 40);
    await addLogs(done);
    await addLogs(failed);
    const result = await cleaner.run({ olderThan: '30d' });
    expect(await runExists(done)).toBe(false);
    expect(await runExists(failed)).toBe(false);
    const left = await sql(`SELECT 1 FROM ${logs} WHERE workflow_id = ANY($1::bigint[])`, [
      [done, failed],
    ]);
    expect(left).toEqual([]);
    expect(result).toEqual({ workflows: 2, executionLogs: 2, errorLogs: 2, repeatTicks: 0 });
  });

  it('should delete old cancelled runs like failed ones', async () => {
    const cancelled = await makeRun('cancelled', 40);
    await cleaner.run({ olderThan: '365d', failedOlderThan: '30d' });
    expect(await runExists(cancelled)).toBe(false);
  });

  it('should keep recent terminal runs', async () => {
    const recent = await makeRun('completed', 5);
    expect((await cleaner.run({ olderThan: '30d' })).workflows).toBe(0);
    expect(await runExists(recent)).toBe(true);
  });

  it('should keep a long-running run that only just completed or failed', async () => {
    const completed = await makeRun('completed', 1, 365);
    const failed = await makeRun('failed', 1, 365);
    await cleaner.run({ olderThan: '30d' });
    expect(await runExists(completed)).toBe(true);
    expect(await runExists(failed)).toBe(true);
  });

  it('should never delete idle, running or stalled runs, however old', async () => {
    const ids = await Promise.all(['running', 'idle', 'stalled'].map((s) => makeRun(s, 90, 90)));
    await cleaner.run({ olderThan: '1d' });
    for (const id of ids) expect(await runExists(id)).toBe(true);
  });

  it('should apply completedOlderThan and failedOlderThan independently', async () => {
    const completed = await makeRun('completed', 20);
    const failed = await makeRun('failed', 20);
    await cleaner.run({ olderThan: '365d', completedOlderThan: '10d' });
    expect(await runExists(completed)).toBe(false);
    expect(await runExists(failed)).toBe(true);
    const completed2 = await makeRun('completed', 20);
    await cleaner.run({ olderThan: '365d', failedOlderThan: '10d' });
    expect(await runExists(failed)).toBe(false);
    expect(await runExists(completed2)).toBe(true);
  });

  it('should delete across several batches', async () => {
    const ids = await Promise.all(Array.from({ length: 7 }, () => makeRun('completed', 40)));
    const result = await cleaner.run({ olderThan: '30d', batchSize: 2 });
    expect(result.workflows).toBe(7);
    for (const id of ids) expect(await runExists(id)).toBe(false);
  });

  it('should keep a recent child whose old parent is deleted, without its parent pointer', async () => {
    const parent = await makeRun('completed', 40);
    const [branch] = await sql<{ id: string }>(
      `INSERT INTO ${logs} (workflow_id, step_name, state) VALUES ($1, 'branch$lines', 'completed') RETURNING id`,
      [parent],
    );
    const child = await makeRun('completed', 1);
    await sql(`UPDATE ${wf} SET parent_execution_log_id = $2 WHERE id = $1`, [child, branch.id]);
    await cleaner.run({ olderThan: '30d' });
    expect(await runExists(parent)).toBe(false);
    const [kept] = await sql(`SELECT parent_execution_log_id FROM ${wf} WHERE id = $1`, [child]);
    expect(kept).toEqual({ parent_execution_log_id: null });
  });

  it('should delete engine-made runs once they are old enough, and reject a bad batch size', async () => {
    const handle = await app
      .get(WorkflowClient)
      .start('cleanup.echo', { key: 'echo-1', input: { n: 21 } });
    await expect(handle.result({ timeout: '10s' })).resolves.toBe(42);
    expect((await cleaner.run({ olderThan: '1d' })).workflows).toBe(0);
    await sql(`UPDATE ${wf} SET completed_at = now() - interval '2 days' WHERE key = 'echo-1'`);
    const result = await cleaner.run({ olderThan: '1d' });
    expect(result).toMatchObject({ workflows: 1, executionLogs: 2 });
    await expect(cleaner.run({ batchSize: 0 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(cleaner.run({ olderThan: 'soon' as never })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
  });
});
