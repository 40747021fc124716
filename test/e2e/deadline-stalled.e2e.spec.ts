import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient, type WorkflowRunDetail } from '../../lib/index.js';
import { stallingProviders } from '../fixtures/stalled-deadline.fixture.js';
import { eventually } from '../support/env.js';
import { bootLedgerApp, ledgerSteps } from '../support/ledger-app.js';
import { suiteApp } from '../support/suite.js';

/** The recovery sweep enforces the deadlines of `stalled` runs (no retry needed). */
describe('deadlines of stalled runs (e2e)', () => {
  const suite = suiteApp('stalldl', [], {
    boot: (schema, queueName) => bootLedgerApp(schema, queueName, stallingProviders),
  });
  let client: WorkflowClient;
  beforeAll(() => {
    client = suite.client;
  });

  const stalled = (key: string) =>
    eventually(async () => (await client.get(key)).state === 'stalled', 10_000, `${key} stalls`);
  const endsAs = (key: string, states: string[]) =>
    eventually(
      async () => {
        const run = await client.get(key);
        return states.includes(run.state) ? run : null;
      },
      15_000,
      `${key} to end`,
    ) as Promise<WorkflowRunDetail>;

  it("should cancel a stalled run past its deadline (onTimeout: 'cancel')", async () => {
    await client.start('stalling.cancel', { key: 'c' });
    await stalled('c');
    const run = await endsAs('c', ['cancelled', 'failed', 'compensated']);
    expect(run.state).toBe('cancelled');
    expect(run.cancelReason).toMatch(/^deadline exceeded \(/);
    // Deadline (2 s from start) + the sweep's grace (1 s) + a sweep (every 500 ms) + load.
    expect(run.finishedAt!.getTime() - run.deadlineAt!.getTime()).toBeLessThan(10_000);
    expect(await ledgerSteps(suite.schema, 'c')).toEqual(['book']);
  }, 30_000);

  it("should fail a stalled run past its deadline with DeadlineExceededError (onTimeout: 'fail')", async () => {
    await client.start('stalling.fail', { key: 'f' });
    await stalled('f');
    const run = await endsAs('f', ['cancelled', 'failed', 'compensated']);
    expect(run.state).toBe('failed');
    expect(run.errors.map((e) => e.errorClass)).toContain('DeadlineExceededError');
  }, 30_000);

  it('should roll a stalled run back when its workflow rolls back on the cancel', async () => {
    await client.start('stalling.rollsBack', { key: 'r' });
    await stalled('r');
    const run = await endsAs('r', ['cancelled', 'failed', 'compensated']);
    expect(run.state).toBe('compensated');
    expect(run.compensation?.cause).toBe('cancelled');
    expect(await ledgerSteps(suite.schema, 'r')).toEqual(['book', 'unbook']);
  }, 30_000);

  it('should leave a stalled run without a deadline stalled', async () => {
    await client.start('stalling.forever', { key: 'n' });
    await stalled('n');
    await new Promise((r) => setTimeout(r, 4_000)); // past the others' deadlines, several sweeps
    expect((await client.get('n')).state).toBe('stalled');
  }, 30_000);
});
