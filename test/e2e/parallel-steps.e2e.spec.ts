import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { BodyLedger, doubleExecutionProviders } from '../fixtures/double-execution.fixture.js';
import { suiteApp } from '../support/suite.js';

describe('parallel durable calls in one pass (e2e)', () => {
  const suite = suiteApp('par', doubleExecutionProviders);
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let ledger: BodyLedger;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    ledger = app.get(BodyLedger);
  });

  it('should record a step still running when its Promise.all sibling halts, and never run it again', async () => {
    const handle = await client.start('double.parallel', { key: 'par-1', input: { x: 'a' } });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('slow-a+flaky-a');
    expect(ledger.count('par-1', 'slow')).toBe(1);
    expect(ledger.count('par-1', 'flaky')).toBe(2);
    const run = await client.get('par-1');
    const steps = Object.fromEntries(run.steps.map((s) => [s.name, [s.state, s.attempts]]));
    expect(steps['step$slow']).toEqual(['completed', 1]);
    expect(steps['step$flaky']).toEqual(['completed', 2]);
  });

  it('should record a step still running when the sleep beside it halts the pass', async () => {
    const handle = await client.start('double.parallelSleep', { key: 'par-3', input: {} });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe(42);
    expect(ledger.list('par-3')).toEqual(['fetch', 'after']);
    const run = await client.get('par-3');
    const steps = Object.fromEntries(run.steps.map((s) => [s.name, [s.state, s.attempts]]));
    expect(steps['step$fetch']).toEqual(['completed', 1]);
    expect(steps['wait$pause']?.[0]).toBe('completed');
  });

  it('should not start a durable call made after a sibling halted the pass', async () => {
    const handle = await client.start('double.parallelLate', { key: 'par-2', input: { x: 'b' } });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('flaky-b+late');
    // The pass that failed `flaky` halted before `late` was called: `late` ran only in the next.
    expect(ledger.list('par-2')).toEqual(['flaky', 'flaky', 'late']);
  });
});
