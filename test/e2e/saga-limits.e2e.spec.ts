import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { sagaLimitProviders, UndoProbe } from '../fixtures/saga-limits.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** A compensation takes its step's `limit` (issue 17's flow control), with the step's keys. */
describe('sagas: compensations under their step limit (e2e)', () => {
  const suite = suiteApp('sagalimit', sagaLimitProviders, {
    options: { worker: { concurrency: 8 }, limits: { gate: { concurrency: 1 } } },
  });
  let client: WorkflowClient;
  let probe: UndoProbe;
  beforeAll(() => {
    client = suite.client;
    probe = suite.app.get(UndoProbe);
  });

  it('should run the compensations of one limit key one at a time, and other keys beside', async () => {
    const runs = [
      ...[0, 1, 2, 3].map((i) => ({ key: `a${i}`, tenant: 'a' })),
      ...[0, 1].map((i) => ({ key: `b${i}`, tenant: 'b' })),
    ];
    for (const { key, tenant } of runs)
      await client.start('gated.saga', { key, input: { tenant } });
    await eventually(
      async () => {
        const states = await Promise.all(runs.map(async (r) => (await client.get(r.key)).state));
        return states.every((s) => s === 'compensated');
      },
      30_000,
      'every run rolled back',
    );
    expect([...probe.undone].sort()).toEqual(runs.map((r) => `booking-${r.key}`).sort());
    expect(probe.peak.get('a')).toBe(1);
    expect(probe.peak.get('b')).toBe(1);
    const run = await client.get('a0');
    const undo = run.steps.find((s) => s.name === '$compensate$step$book');
    expect(undo?.state).toBe('completed');
  }, 60_000);
});
