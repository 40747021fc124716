import { beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidOptionsError,
  InvalidTransitionError,
  RunCancelledError,
  WorkflowClient,
} from '../../lib/index.js';
import { LifecycleProbe, lifecycleProviders } from '../fixtures/lifecycle.fixture.js';
import { eventually, sql } from '../support/env.js';
import { bootLedgerApp, ledgerSteps } from '../support/ledger-app.js';
import { suiteApp } from '../support/suite.js';

/** Cancellation: reason, abort signal, rollback on cancel, and whole trees in one statement. */
describe('cancellation (e2e)', () => {
  const suite = suiteApp('cancel', [], {
    boot: (schema, queueName) =>
      bootLedgerApp(schema, queueName, lifecycleProviders, { worker: { concurrency: 8 } }),
  });
  const { schema } = suite;
  let client: WorkflowClient;
  let probe: LifecycleProbe;
  beforeAll(() => {
    client = suite.client;
    probe = suite.app.get(LifecycleProbe);
  });

  const ledger = (key: string) => ledgerSteps(schema, key);
  const stateOf = async (key: string) => (await client.get(key)).state;
  const reach = (key: string, state: string) =>
    eventually(async () => (await stateOf(key)) === state, 20_000, `${key} to be ${state}`);
  const sleeping = (key: string, steps: number) =>
    eventually(
      async () => (await ledger(key)).length === steps && (await stateOf(key)) === 'idle',
      15_000,
      `${key} to sleep`,
    );

  it('should store the reason, show it in get() and refuse a second cancel', async () => {
    await client.start('life.sleeper', { key: 'reason', input: { steps: 1 } });
    await sleeping('reason', 1);
    await client.cancel('reason', { reason: 'customer asked' });
    const run = await client.get('reason');
    expect(run.state).toBe('cancelled');
    expect(run.cancelReason).toBe('customer asked');
    expect(run.compensation).toBeNull();
    expect(await ledger('reason')).toEqual(['do1']);
    await expect(client.cancel('reason')).rejects.toThrow(InvalidTransitionError);
    await expect(client.cancel('reason', { reason: 'x'.repeat(1001) })).rejects.toThrow(
      InvalidOptionsError,
    );
  });

  it('should fire ctx.abortSignal in a running step body and run nothing after it', async () => {
    const handle = await client.start('life.hang', { key: 'hang' });
    await eventually(async () => probe.started.has('hang'), 10_000, 'the body to start');
    const cancelledAt = Date.now();
    await handle.cancel({ reason: 'stop now' });
    const reason = await eventually(async () => probe.aborted.get('hang'), 5_000, 'the abort');
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
    expect(reason).toBeInstanceOf(RunCancelledError);
    expect((reason as RunCancelledError).message).toContain('stop now');
    await new Promise((r) => setTimeout(r, 1_000));
    const run = await client.get('hang');
    expect(run.state).toBe('cancelled');
    expect(run.steps.map((s) => [s.name, s.state])).toEqual([]);
    expect(await ledger('hang')).toEqual([]);
  });

  it('should roll back on cancel with compensate: true, last step first', async () => {
    await client.start('life.sleeper', { key: 'undo', input: { steps: 2 } });
    await sleeping('undo', 2);
    await client.cancel('undo', { reason: 'fraud', compensate: true });
    await reach('undo', 'compensated');
    const run = await client.get('undo');
    expect(run.cancelReason).toBe('fraud');
    expect(run.compensation?.cause).toBe('cancelled');
    expect(await ledger('undo')).toEqual(['do1', 'do2', 'undo2', 'undo1']);
  });

  it("should roll back by default when compensateOn lists 'cancelled', and not with compensate: false", async () => {
    await client.start('life.rollsBack', { key: 'auto', input: { steps: 1 } });
    await client.start('life.rollsBack', { key: 'kept', input: { steps: 1 } });
    await Promise.all([sleeping('auto', 1), sleeping('kept', 1)]);
    await client.cancel('auto');
    await client.cancel('kept', { compensate: false });
    await reach('auto', 'compensated');
    expect(await ledger('auto')).toEqual(['do1', 'undo1']);
    expect(await stateOf('kept')).toBe('cancelled');
    expect(await ledger('kept')).toEqual(['do1']);
  });

  it('should cancel a parent and its 100 children in one statement and compensate each child before the earlier step of the parent', async () => {
    const n = 100;
    await client.start('life.parent', { key: 'tree', input: { n } });
    await eventually(
      async () => {
        const [row] = await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${schema}".ledger WHERE key LIKE 'tree$%' AND step = 'do1'`,
        );
        return row.n === n;
      },
      30_000,
      'every child to complete its step',
    );
    await client.cancel('tree', { reason: 'order voided', compensate: true, children: true });
    const open = () =>
      sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${schema}".chrono_forge_workflows
         WHERE key LIKE 'tree%' AND state <> 'compensated'`,
      );
    await eventually(async () => (await open())[0].n === 0, 60_000, 'the whole tree to roll back');
    const undone = await sql<{ key: string; n: number }>(
      `SELECT key, count(*)::int AS n FROM "${schema}".ledger
       WHERE key LIKE 'tree$%' AND step = 'undo1' GROUP BY key`,
    );
    expect(undone).toHaveLength(n);
    expect(undone.every((r) => r.n === 1)).toBe(true);
    expect(await ledger('tree')).toEqual(['reserve', 'unreserve']);
    // The children's rollbacks went before the parent's step that preceded its branch.
    const [order] = await sql<{ lastChild: Date; parent: Date }>(
      `SELECT (SELECT max(at) FROM "${schema}".ledger WHERE key LIKE 'tree$%' AND step = 'undo1') AS "lastChild",
              (SELECT at FROM "${schema}".ledger WHERE key = 'tree' AND step = 'unreserve') AS parent`,
    );
    expect(order.parent.getTime()).toBeGreaterThanOrEqual(order.lastChild.getTime());
    const reasons = await sql<{ reason: string; n: number }>(
      `SELECT cancel_reason AS reason, count(*)::int AS n FROM "${schema}".chrono_forge_workflows
       WHERE key LIKE 'tree%' GROUP BY 1`,
    );
    expect(reasons).toEqual([{ reason: 'order voided', n: n + 1 }]);
    // NOTE: the waits above allow 30 s + 60 s (101 runs forward and back on a loaded machine's
    // PostgreSQL queue): the test's own limit must not cut them short.
  }, 120_000);
});
