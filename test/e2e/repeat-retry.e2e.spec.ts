import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { RepeatProbe, repeatProviders } from '../fixtures/repeat.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** Tick rows (`durably_repeat$<name>$<ms>`) of run `key`, oldest first. */
const ticksOf = (schema: string, key: string, name: string) =>
  sql<{ step_name: string; state: string; attempts: number }>(
    `SELECT l.step_name, l.state, l.attempts FROM "${schema}".chrono_forge_execution_logs l
     JOIN "${schema}".chrono_forge_workflows w ON w.id = l.workflow_id
     WHERE w.key = $1 AND l.step_name LIKE $2 ORDER BY l.id`,
    [key, `durably\\_repeat$${name}$%`],
  );

describe("client.retry of a run a @Repeat tick stalled (onError: 'fail') (e2e)", () => {
  const suite = suiteApp('repr', repeatProviders);
  const { schema } = suite;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: RepeatProbe;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    probe = app.get(RepeatProbe);
  });
  it('should re-run the failed tick (with a fresh retry budget) before the next one', async () => {
    const key = 'r-fixable';
    probe.broken.add(key);
    const handle = await client.start('repeat.fixable', { key });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    const [failed] = await ticksOf(schema, key, 'fixable');
    expect(failed).toMatchObject({ state: 'failed', attempts: 2 });
    const failedAt = Number(failed.step_name.split('$').pop());

    // The cause is fixed; the operator retries the run.
    probe.broken.delete(key);
    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('fixed');

    expect(probe.ticks.get(key)).toEqual([new Date(failedAt), new Date(failedAt + 150)]);
    expect((await ticksOf(schema, key, 'fixable')).map((t) => [t.step_name, t.state])).toEqual([
      [`durably_repeat$fixable$${failedAt}`, 'completed'],
      [`durably_repeat$fixable$${failedAt + 150}`, 'completed'],
    ]);
    const run = await client.get(key);
    expect(run.errors.map((e) => [e.stepName, e.attempt])).toEqual([
      [failed.step_name, 1],
      [failed.step_name, 2],
    ]);
  });

  it('should stall again, re-running the tick once per retry, while the cause persists', async () => {
    const key = 'r-still-broken';
    probe.broken.add(key);
    const handle = await client.start('repeat.fixable', { key });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    const callsBefore = probe.calls.get(key);
    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    // The retry's fresh budget: two more attempts of the same tick, and no other tick.
    expect(probe.calls.get(key)).toBe((callsBefore ?? 0) + 2);
    expect((await ticksOf(schema, key, 'fixable')).map((t) => [t.state, t.attempts])).toEqual([
      ['failed', 4],
    ]);
  });

  it('should leave the failed ticks of an onError: continue repeat failed when the run is retried', async () => {
    const key = 'r-gate';
    probe.broken.add(key);
    const handle = await client.start('repeat.flakyThenGate', { key });
    await expect(handle.result({ timeout: '10s' })).rejects.toThrow(/stalled/);
    const before = (await ticksOf(schema, key, 'nagging')).map((t) => [t.step_name, t.state]);
    expect(before.map(([, state]) => state)).toEqual(['failed', 'completed', 'completed']);

    probe.broken.delete(key);
    await client.retry(key);
    await expect(handle.result({ timeout: '10s' })).resolves.toBe('through');
    // History, not a step to re-attempt: the repeat is complete and the row stays as it was.
    expect((await ticksOf(schema, key, 'nagging')).map((t) => [t.step_name, t.state])).toEqual(
      before,
    );
  });
});
