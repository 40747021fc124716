import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCompiled, spawnWorker, type ChildWorker } from '../support/child-worker.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';
import { afterAll } from 'vitest';
import { hitsTable, HitsWorkflow } from './support/hits.fixture.js';

const WORKERS = 4;
const RUNS = 40;

/**
 * Four worker processes on one queue behind the transaction pooler, every one with a sweeper every
 * 250 ms: each run completes and each step body runs once, spread over the processes.
 */
describe('many worker processes on one queue (topology)', () => {
  const suite = suiteApp('many', [HitsWorkflow], { options: { worker: false } });
  const workers: ChildWorker[] = [];
  beforeAll(async () => {
    ensureCompiled();
    process.env.CF_TEST_SCHEMA = suite.schema;
    await sql(`CREATE TABLE ${hitsTable(suite.schema)} (key text, step text, pid int)`);
    for (let i = 0; i < WORKERS; i++)
      workers.push(
        spawnWorker(suite.schema, suite.queueName, {}, '../topology/support/hits-worker.main.js'),
      );
    await Promise.all(workers.map((w) => w.ready));
  });
  afterAll(async () => {
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  });

  it('should run every step once across 4 worker processes with 4 sweepers', async () => {
    const keys = Array.from({ length: RUNS }, (_, i) => `m-${i}`);
    const handles = await Promise.all(
      keys.map((key) => suite.client.start('topology.hits', { key })),
    );
    const results = await Promise.all(handles.map((h) => h.result({ timeout: '90s' })));
    expect(results).toEqual(keys.map(() => 'done'));
    const rows = await sql<{ key: string; step: string; n: number }>(
      `SELECT key, step, count(*)::int AS n FROM ${hitsTable(suite.schema)} GROUP BY key, step HAVING count(*) <> 1`,
    );
    expect(rows).toEqual([]);
    const [{ steps, pids }] = await sql<{ steps: number; pids: number }>(
      `SELECT count(*)::int AS steps, count(DISTINCT pid)::int AS pids FROM ${hitsTable(suite.schema)}`,
    );
    expect(steps).toBe(RUNS * 2);
    expect(pids).toBeGreaterThan(1);
  });
});
