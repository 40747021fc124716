import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeMetrics,
  DurableCallInStepError,
  WorkflowClient,
  WorkflowFailedError,
} from '../../lib/index.js';
import { BodyLedger } from '../fixtures/double-execution.fixture.js';
import { passEndProviders } from '../fixtures/pass-end.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('how a pass ends under catch-all loops and floating calls (e2e)', () => {
  const suite = suiteApp('passend', passEndProviders);
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let ledger: BodyLedger;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  const passes = async (workflow: string, outcome: string): Promise<number> => {
    const { values } = await app.get(ChronoForgeMetrics).passes.get();
    return values
      .filter((v) => v.labels.workflow === workflow && v.labels.outcome === outcome)
      .reduce((sum, v) => sum + v.value, 0);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    app = suite.app;
    client = suite.client;
    ledger = app.get(BodyLedger);
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('should end a halted pass whose method retries the step in a catch-all loop, without starving the process', async () => {
    const handle = await client.start('passEnd.retryLoop', { key: 'retry-loop-1', input: {} });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('flaky');
    await eventually(async () => ledger.count('retry-loop-1', 'timer') === 1, 5_000, 'timer');
    expect(ledger.list('retry-loop-1')).not.toContain('starved');
    expect(ledger.count('retry-loop-1', 'flaky')).toBe(2);
  });

  it('should end a cancelled pass whose method never stops calling steps, without starving the process', async () => {
    await client.start('passEnd.cancelLoop', { key: 'cancel-loop-1', input: {} });
    await eventually(async () => ledger.count('cancel-loop-1', 'item1') === 1, 15_000, 'item 1');
    await client.cancel('cancel-loop-1');
    ledger.open('cancel-loop-1');
    // The method never returns (it catches every refusal); the pass must end all the same.
    await eventually(async () => (await passes('passEnd.cancelLoop', 'lock_lost')) === 1);
    await eventually(async () => ledger.count('cancel-loop-1', 'timer') === 1, 5_000, 'timer');
    expect(ledger.list('cancel-loop-1')).not.toContain('starved');
    expect(ledger.list('cancel-loop-1').filter((e) => e.startsWith('item'))).toEqual(['item1']);
  });

  it('should record a step a floating chain starts after the method returned, in the same pass', async () => {
    const handle = await client.start('passEnd.floatingChain', { key: 'chain-1', input: {} });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('done');
    const run = await client.get('chain-1');
    const steps = run.steps.filter((s) => s.name.startsWith('step$'));
    expect(steps.map((s) => [s.name, s.state])).toEqual([
      ['step$audit', 'completed'],
      ['step$audit#2', 'completed'],
    ]);
    expect(ledger.list('chain-1')).toEqual(['a', 'b']);
  });

  it('should not leave an unhandled rejection when a floating step halts the pass for its retry', async () => {
    unhandled.length = 0;
    const handle = await client.start('passEnd.floatingFlaky', { key: 'float-1', input: {} });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('done');
    expect(ledger.count('float-1', 'audit')).toBe(2);
    expect(ledger.count('float-1', 'main')).toBe(1);
    expect(unhandled).toEqual([]);
  });

  it('should fail a @Repeat tick whose body calls ctx.sleep() at once, without retrying it', async () => {
    const handle = await client.start('passEnd.repeatSleep', { key: 'repeat-1', input: {} });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('ticked');
    const run = await client.get('repeat-1');
    const ticks = run.steps.filter((s) => /^durably_repeat\$tick\$\d+$/.test(s.name));
    expect(ticks.map((t) => [t.state, t.attempts])).toEqual([
      ['completed', 1],
      ['failed', 1],
      ['completed', 1],
    ]);
    expect(run.errors.map((e) => e.errorClass)).toEqual([DurableCallInStepError.name]);
    expect(ledger.count('repeat-1', 'tick')).toBe(3);
  });

  it('should fail a waitUntil check that calls ctx.sleep(), even when it catches the refusal', async () => {
    const handle = await client.start('passEnd.checkSleeps', { key: 'check-1', input: {} });
    await expect(handle.result({ timeout: '20s' })).rejects.toBeInstanceOf(WorkflowFailedError);
    const run = await client.get('check-1');
    expect(run.state).toBe('stalled');
    expect(run.errors.map((e) => [e.stepName, e.errorClass])).toEqual([
      ['wait_until$ready', DurableCallInStepError.name],
    ]);
    expect(ledger.list('check-1')).toEqual(['check']);
  });
});
