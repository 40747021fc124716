import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidTransitionError, WorkflowClient } from '../../lib/index.js';
import { failingUndos, sagaProviders } from '../fixtures/saga.fixture.js';
import { eventually, sql } from '../support/env.js';
import { bootLedgerApp, ledgerSteps } from '../support/ledger-app.js';
import { suiteApp } from '../support/suite.js';

/** Compensations: a failing run undoes its completed steps, last completed first, once each. */
describe('sagas: compensation of completed steps (e2e)', () => {
  const suite = suiteApp('saga', [], {
    boot: async (schema, queueName) => {
      const app = await bootLedgerApp(schema, queueName, sagaProviders);
      await sql(`CREATE TABLE "${schema}".bookings (id serial PRIMARY KEY, key text NOT NULL)`);
      return app;
    },
  });
  const { schema } = suite;
  let client: WorkflowClient;
  beforeAll(() => {
    client = suite.client;
  });

  const ledger = (key: string) => ledgerSteps(schema, key);
  const settled = (key: string) =>
    eventually(
      async () => {
        const run = await client.get(key);
        return run.state !== 'compensating' && run.state !== 'idle' && run.state !== 'running'
          ? run
          : null;
      },
      15_000,
      `run ${key} to end its rollback`,
    );

  it('should compensate steps 3, 2, 1 in that order, each once, when step 4 fails', async () => {
    const handle = await client.start('saga.four', { key: 'four', input: { failAt: 4 } });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/compensated/);
    expect(await ledger('four')).toEqual(['do1', 'do2', 'do3', 'undo3:r3', 'undo2:r2', 'undo1:r1']);
    const run = await client.get('four');
    expect(run.state).toBe('compensated');
    expect(run.finishedAt).toBeInstanceOf(Date);
    expect(run.compensation).toEqual({
      cause: 'stalled',
      compensated: ['step$act#3', 'step$act#2', 'step$act'],
      failures: [],
    });
    expect(run.steps.filter((s) => s.name.startsWith('$compensate$')).map((s) => s.name)).toEqual([
      '$compensate$step$act#3',
      '$compensate$step$act#2',
      '$compensate$step$act',
    ]);
    await expect(client.retry('four')).rejects.toThrow(InvalidTransitionError);
  });

  it('should leave the run failed with the failing compensation listed, and go on with the others', async () => {
    failingUndos.add('undo-fails:2');
    await client.start('saga.four', { key: 'undo-fails', input: { failAt: 4 } });
    const run = await settled('undo-fails');
    expect(run.state).toBe('failed');
    expect(run.compensation?.failures).toEqual([
      {
        step: 'step$act#2',
        compensation: '$compensate$step$act#2',
        errorClass: 'Error',
        message: 'undo 2 is down',
      },
    ]);
    expect(run.compensation?.compensated).toEqual(['step$act#3', 'step$act']);
    expect(await ledger('undo-fails')).toEqual(['do1', 'do2', 'do3', 'undo3:r3', 'undo1:r1']);
    const attempts = run.errors.filter((e) => e.stepName === '$compensate$step$act#2');
    expect(attempts.map((e) => e.attempt)).toEqual([1, 2]);
    // A forward retry is refused; compensate() runs the failed compensation again, and only it.
    await expect(client.retry('undo-fails')).rejects.toThrow(/use compensate\(\)/);
    failingUndos.delete('undo-fails:2');
    await client.compensate('undo-fails');
    expect((await settled('undo-fails')).state).toBe('compensated');
    expect(await ledger('undo-fails')).toEqual([
      'do1',
      'do2',
      'do3',
      'undo3:r3',
      'undo1:r1',
      'undo2:r2',
    ]);
  });

  it('should roll back ctx.step compensations with their results on a workflow-level failure', async () => {
    await client.start('saga.inline', { key: 'inline' });
    const run = await settled('inline');
    expect(run.state).toBe('compensated');
    expect(run.compensation?.cause).toBe('failed');
    expect(await ledger('inline')).toEqual(['refund (charged for 12)', 'release seat 12']);
    expect(run.errors.map((e) => e.message)).toContain('shipping is impossible');
  });

  it('should compensate steps that completed beside the failed one in a Promise.all', async () => {
    await client.start('saga.parallel', { key: 'parallel' });
    const run = await settled('parallel');
    expect(run.state).toBe('compensated');
    expect((await ledger('parallel')).sort()).toEqual(['undo a', 'undo b']);
  });

  it('should undo the steps after a failure the workflow caught', async () => {
    await client.start('saga.caught', { key: 'caught' });
    const run = await settled('caught');
    expect(run.state).toBe('compensated');
    expect(run.compensation).toEqual({ cause: 'stalled', compensated: ['step$a'], failures: [] });
    expect(await ledger('caught')).toEqual(['undo a']);
  });

  it('should undo a transactional step through ctx.manager in its own transactional compensation', async () => {
    await client.start('saga.tx', { key: 'tx' });
    const run = await settled('tx');
    expect(run.state).toBe('compensated');
    expect(run.steps.map((s) => [s.name, s.state])).toEqual([
      ['step$book', 'completed'],
      ['$compensate$step$book', 'completed'],
    ]);
    expect(await sql(`SELECT * FROM "${schema}".bookings WHERE key = 'tx'`)).toEqual([]);
  });

  it('should not roll back by itself with compensateOn: [] and roll back on client.compensate()', async () => {
    const handle = await client.start('saga.manual', { key: 'manual', input: { failAt: 3 } });
    await expect(handle.result({ timeout: '15s' })).rejects.toThrow(/stalled/);
    expect(await ledger('manual')).toEqual(['do1', 'do2']);
    await client.compensate('manual');
    expect((await settled('manual')).state).toBe('compensated');
    expect(await ledger('manual')).toEqual(['do1', 'do2', 'undo2:r2', 'undo1:r1']);
    await expect(client.compensate('manual')).rejects.toThrow(InvalidTransitionError);
  });

  it('should complete a run whose steps all succeed without running any compensation', async () => {
    const handle = await client.start('saga.four', { key: 'happy', input: {} });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('done');
    expect(await ledger('happy')).toEqual(['do1', 'do2', 'do3', 'do4']);
    expect((await client.get('happy')).compensation).toBeNull();
  });
});
