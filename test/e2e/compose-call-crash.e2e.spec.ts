import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCompiled, spawnWorker } from '../support/child-worker.js';
import { composeProviders } from '../fixtures/compose.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';
import type { ChildWorker } from '../support/child-worker.js';

describe('composition: ctx.call across a SIGKILL (e2e)', () => {
  // This process only starts runs; the sleeps run in worker processes.
  const suite = suiteApp('callkill', composeProviders, { options: { worker: false } });
  const { schema, queueName } = suite;
  const workers: ChildWorker[] = [];
  beforeAll(() => ensureCompiled());
  afterAll(() => {
    for (const w of workers)
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
  });
  const worker = (env: Record<string, string> = {}) => {
    const w = spawnWorker(schema, queueName, env, 'compose-worker.main.js');
    workers.push(w);
    return w;
  };

  it("should return the child's result without starting a second child after a SIGKILL between the child's end and the parent's next pass", async () => {
    const { client } = suite;
    const handle = await client.start('checkout.one', {
      key: 'k-kill',
      input: { sku: 'abc', sleep: '300ms' },
    });
    const crashing = worker({ CF_KILL_ON_WAKE: handle.id });
    await crashing.ready;
    const exit = await crashing.exited;
    expect(exit.signal).toBe('SIGKILL');
    const before = await sql<{ key: string; state: string }>(
      `SELECT key, state FROM "${schema}".chrono_forge_workflows WHERE key LIKE 'k-kill%' ORDER BY id`,
    );
    // The child's end committed (and stored the parent's wake time); the parent has not run since.
    expect(before).toEqual([
      { key: 'k-kill', state: 'idle' },
      { key: 'k-kill$checkout.one$$call$pricing.quote', state: 'completed' },
    ]);
    const fresh = worker();
    await fresh.ready;
    await expect(handle.result({ timeout: '30s' })).resolves.toBe(30);
    const runs = await sql<{ key: string; state: string; sleeps: number }>(
      `SELECT w.key, w.state, (SELECT count(*)::int FROM "${schema}".chrono_forge_execution_logs l
         WHERE l.workflow_id = w.id AND l.step_name = 'wait$think') AS sleeps
       FROM "${schema}".chrono_forge_workflows w WHERE key LIKE 'k-kill%' ORDER BY id`,
    );
    expect(runs).toEqual([
      { key: 'k-kill', state: 'completed', sleeps: 0 },
      { key: 'k-kill$checkout.one$$call$pricing.quote', state: 'completed', sleeps: 1 },
    ]);
    const steps = (await client.get('k-kill')).steps.map((s) => [s.name, s.state]);
    expect(steps).toEqual(
      expect.arrayContaining([
        ['call$pricing.quote', 'completed'],
        ['step$after', 'completed'],
      ]),
    );
    fresh.proc.kill('SIGTERM');
    await fresh.exited;
  }, 120_000);
});
