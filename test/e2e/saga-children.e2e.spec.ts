import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { SagaFamily, sagaFamilyProviders } from '../fixtures/saga-family.fixture.js';
import { eventually, sql } from '../support/env.js';
import { bootLedgerApp, ledgerSteps } from '../support/ledger-app.js';
import { expectFamilyRollback } from '../support/saga-family.js';
import { suiteApp } from '../support/suite.js';

/**
 * A failing (or stalled) parent rolls back its completed children before its own earlier steps;
 * each child rolls back as `byParent`: `compensated`, or `completed` again with nothing to undo.
 */
describe('sagas: a failing parent rolls back its children (e2e)', () => {
  const suite = suiteApp('sagakids', [], {
    boot: (schema, queueName) => bootLedgerApp(schema, queueName, sagaFamilyProviders),
  });
  const { schema } = suite;
  let client: WorkflowClient;
  beforeAll(() => {
    client = suite.client;
  });

  const children = (key: string) =>
    sql<{ key: string; state: string; cause: string | null; compensated: string[] | null }>(
      `SELECT key, state, compensation->>'cause' AS cause, compensation->'compensated' AS compensated
       FROM "${schema}".chrono_forge_workflows WHERE key LIKE $1 ORDER BY key`,
      [`${key}$%`],
    );
  const ended = (key: string) =>
    eventually(
      async () => {
        const run = await client.get(key);
        const kids = await children(key);
        const busy = (s: string) => ['idle', 'running', 'compensating'].includes(s);
        return !busy(run.state) && !kids.some((k) => busy(k.state)) ? { run, kids } : null;
      },
      30_000,
      `family ${key} to end its rollback`,
    );

  it.each([
    ['fail', 'failed'],
    ['stall', 'stalled'],
  ] as const)(
    'should compensate the children of a parent that ends %s before its earlier steps',
    async (end, cause) => {
      const key = `family-${end}`;
      await client.start('family.parent', { key, input: { end } });
      const { run, kids } = await ended(key);
      expect(run.state).toBe('compensated');
      expect(run.compensation?.cause).toBe(cause);
      expect(run.compensation?.compensated).toEqual(['step$after', 'step$reserve']);
      const rows = await ledgerSteps(schema, key);
      expectFamilyRollback(rows, [1, 2]);
      // Every body and compensation ran once.
      expect(new Set(rows).size).toBe(rows.length);
      expect(kids.map((k) => [k.state, k.cause])).toEqual([
        ['completed', 'byParent'], // kid 0: nothing to compensate, completed again
        ['compensated', 'byParent'],
        ['compensated', 'byParent'],
      ]);
      expect(kids[1].compensated).toEqual(['step$k2', 'step$k1']);
      expect(kids[0].compensated).toEqual([]);
      // The child that was completed again keeps its result.
      const plain = await client.get(kids[0].key);
      expect(plain.result).toBe('noted');
    },
    60_000,
  );

  it('should leave the children of a parent that completes alone', async () => {
    const handle = await client.start('family.parent', {
      key: 'family-ok',
      input: { end: 'complete' },
    });
    await expect(handle.result({ timeout: '30s' })).resolves.toBe('shipped');
    const kids = await children('family-ok');
    expect(kids.map((k) => [k.state, k.cause])).toEqual([
      ['completed', null],
      ['completed', null],
      ['completed', null],
    ]);
  }, 60_000);
  it("should leave the parent failed, the child listed, when a child's rollback fails", async () => {
    SagaFamily.failingUndos.add('family-kidfails');
    await client.start('family.parent', { key: 'family-kidfails', input: { end: 'fail' } });
    const { run, kids } = await ended('family-kidfails');
    expect(run.state).toBe('failed');
    // The rollback went on: the parent's own compensations all ran.
    expect(run.compensation?.compensated).toEqual(['step$after', 'step$reserve']);
    const kid2 = 'family-kidfails$family.parent$kids$kid_2';
    expect(run.compensation?.failures).toEqual([
      {
        step: `child ${kid2}`,
        compensation: kid2,
        errorClass: 'ChildRollbackFailed',
        message: `child run "${kid2}" (family.kid) failed to roll back: see its compensation failures`,
      },
    ]);
    expect(kids.map((k) => k.state)).toEqual(['completed', 'compensated', 'failed']);
    const child = await client.get(kid2);
    expect(child.compensation?.failures?.map((f) => f.step)).toEqual(['step$k1']);
  }, 60_000);
  it('should roll back the completed children of a parent cancelled with compensate', async () => {
    const key = 'family-cancel';
    await client.start('family.parent', { key, input: { end: 'sleep' } });
    await eventually(
      async () =>
        (await client.get(key)).state === 'idle' &&
        (await ledgerSteps(schema, key)).includes('after'),
      20_000,
      `${key} asleep after its children`,
    );
    await client.cancel(key, { reason: 'customer asked', compensate: true });
    const { run, kids } = await ended(key);
    expect(run.state).toBe('compensated');
    expect(run.compensation?.cause).toBe('cancelled');
    expect(run.cancelReason).toBe('customer asked');
    const rows = await ledgerSteps(schema, key);
    expectFamilyRollback(rows, [1, 2]);
    expect(new Set(rows).size).toBe(rows.length);
    expect(kids.map((k) => [k.state, k.cause])).toEqual([
      ['completed', 'byParent'],
      ['compensated', 'byParent'],
      ['compensated', 'byParent'],
    ]);
  }, 60_000);
  it('should roll back the children of a parent with no compensation of its own on client.compensate', async () => {
    const key = 'family-bare';
    await client.start('family.bare', { key, input: { end: 'fail' } });
    const first = await ended(key);
    expect(first.run.state).toBe('failed');
    expect(first.run.compensation).toBeNull();
    expect(first.kids.map((k) => k.state)).toEqual(['completed', 'completed', 'completed']);
    await client.compensate(key);
    const { run, kids } = await ended(key);
    expect(run.state).toBe('failed');
    expect(run.compensation?.compensated).toEqual([]);
    expect(kids.map((k) => [k.state, k.cause])).toEqual([
      ['completed', 'byParent'],
      ['compensated', 'byParent'],
      ['compensated', 'byParent'],
    ]);
    const undos = (await ledgerSteps(schema, key)).filter((r) => r.includes('undo'));
    expect([...undos].sort()).toEqual(['kid1:undo1', 'kid1:undo2', 'kid2:undo1', 'kid2:undo2']);
  }, 60_000);
});
