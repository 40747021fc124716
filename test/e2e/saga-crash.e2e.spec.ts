import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { Ledger, ledgerProviders } from '../fixtures/ledger.fixture.js';
import { onCancelProviders } from '../fixtures/on-cancel.fixture.js';
import { sagaFamilyProviders } from '../fixtures/saga-family.fixture.js';
import { sagaProviders } from '../fixtures/saga.fixture.js';
import { bootApp } from '../support/app.js';
import { type ChildWorker, ensureCompiled, spawnWorker } from '../support/child-worker.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';
import { expectFamilyRollback } from '../support/saga-family.js';

/** A rollback survives the death of the worker running it: each compensation still runs once. */
describe('sagas: rollback across a SIGKILLed worker (e2e)', () => {
  const schema = uniqueName('cf_sagacrash');
  const queueName = uniqueName('q_sagacrash');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  const children: ChildWorker[] = [];

  beforeAll(async () => {
    ensureCompiled();
    process.env.CF_TEST_SCHEMA = schema;
    app = await bootApp({
      schema,
      queueName,
      providers: [
        ...ledgerProviders,
        ...sagaProviders,
        ...sagaFamilyProviders,
        ...onCancelProviders,
      ],
      options: { worker: false },
    });
    await Ledger.createTable(schema, { query: (q: string) => sql(q) });
    client = app.get(WorkflowClient);
  });
  afterAll(async () => {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await app?.close();
    await cleanup(schema, queueName);
  });

  const ledger = (key: string) =>
    sql<{ step: string; pid: number }>(
      `SELECT step, pid FROM "${schema}".ledger WHERE key = $1 ORDER BY at, ctid`,
      [key],
    );

  it('should compensate 3, 2, 1 once each when the worker is SIGKILLed during the rollback', async () => {
    const crashing = spawnWorker(schema, queueName, { CF_CRASH_AT: 'undo2' });
    children.push(crashing);
    await crashing.ready;
    await client.start('saga.four', { key: 'crash', input: { failAt: 4 } });
    expect((await crashing.exited).signal).toBe('SIGKILL');
    expect((await ledger('crash')).map((r) => r.step)).toEqual(['do1', 'do2', 'do3', 'undo3:r3']);
    expect((await client.get('crash')).state).toBe('compensating');

    const fresh = spawnWorker(schema, queueName);
    children.push(fresh);
    await fresh.ready;
    const run = await eventually(
      async () => {
        const r = await client.get('crash');
        return r.state === 'compensated' ? r : null;
      },
      40_000,
      'the rollback to end on the fresh worker',
    );
    const rows = await ledger('crash');
    expect(rows.map((r) => r.step)).toEqual([
      'do1',
      'do2',
      'do3',
      'undo3:r3',
      'undo2:r2',
      'undo1:r1',
    ]);
    expect(rows.slice(4).every((r) => r.pid === fresh.proc.pid)).toBe(true);
    expect(run.compensation?.compensated).toEqual(['step$act#3', 'step$act#2', 'step$act']);
    fresh.proc.kill('SIGTERM');
    expect((await fresh.exited).code).toBe(0);
    // Two worker processes boot one after the other: slow on a loaded machine.
  }, 90_000);
  it("should roll back a failed parent's children once each when the worker is SIGKILLed during a child's rollback", async () => {
    const crashing = spawnWorker(schema, queueName, { CF_CRASH_AT: 'kidundo' });
    children.push(crashing);
    await crashing.ready;
    await client.start('family.parent', { key: 'fam', input: { end: 'fail', kids: 2 } });
    expect((await crashing.exited).signal).toBe('SIGKILL');
    // Killed in kid 1's last compensation (kid 0 has none; the parent waits for its children).
    const before = (await ledger('fam')).map((r) => r.step);
    expect(before.slice(-2)).toEqual(['unafter', 'kid1:undo2']);
    expect((await client.get('fam')).state).toBe('compensating');

    const fresh = spawnWorker(schema, queueName);
    children.push(fresh);
    await fresh.ready;
    await eventually(
      async () => (await client.get('fam')).state === 'compensated',
      60_000,
      'the family rollback to end on the fresh worker',
    );
    const rows = (await ledger('fam')).map((r) => r.step);
    expectFamilyRollback(rows, [1]);
    expect(new Set(rows).size).toBe(rows.length);
    const kids = await sql<{ state: string }>(
      `SELECT state FROM "${schema}".chrono_forge_workflows WHERE key LIKE 'fam$%' ORDER BY key`,
    );
    expect(kids.map((k) => k.state)).toEqual(['completed', 'compensated']);
    fresh.proc.kill('SIGTERM');
    expect((await fresh.exited).code).toBe(0);
  }, 120_000);
  it('should run an @OnCancel cleanup once after its rollback when the worker is SIGKILLed in it', async () => {
    const crashing = spawnWorker(schema, queueName, { CF_CRASH_AT: 'oncancel' });
    children.push(crashing);
    await crashing.ready;
    await client.start('cleanup.sleeper', { key: 'oc', input: {} });
    await eventually(
      async () => (await client.get('oc')).state === 'idle' && (await ledger('oc')).length === 1,
      20_000,
      'oc asleep',
    );
    await client.cancel('oc', { reason: 'late', compensate: true });
    expect((await crashing.exited).signal).toBe('SIGKILL');
    expect((await ledger('oc')).map((r) => r.step)).toEqual(['do1', 'undo1']);
    expect((await client.get('oc')).state).toBe('compensating');

    const fresh = spawnWorker(schema, queueName);
    children.push(fresh);
    await fresh.ready;
    const run = await eventually(
      async () => {
        const r = await client.get('oc');
        return r.state === 'compensated' ? r : null;
      },
      40_000,
      'the cleanup to end on the fresh worker',
    );
    expect((await ledger('oc')).map((r) => r.step)).toEqual(['do1', 'undo1', 'cleanup:late:true']);
    expect(run.steps.filter((s) => s.name === '$oncancel$').map((s) => s.state)).toEqual([
      'completed',
    ]);
    fresh.proc.kill('SIGTERM');
    expect((await fresh.exited).code).toBe(0);
  }, 120_000);
});
