import { describe, expect, it } from 'vitest';
import { composeEndsProviders } from '../fixtures/compose-ends.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

// A called child that ends by a cancel or by a rollback must wake its caller right away (the
// caller's safety timer is 5 minutes): both results are awaited well under it.
describe('composition: a called child cancelled or rolled back wakes its caller (e2e)', () => {
  const suite = suiteApp('callends', composeEndsProviders);
  const { schema } = suite;
  const childKey = (key: string) => `${key}$ends.parent$$call$kid`;

  const waitForChild = async (key: string, state: string) => {
    for (let i = 0; i < 300; i++) {
      const rows = await sql<{ state: string }>(
        `SELECT state FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
        [key],
      );
      if (rows[0]?.state === state) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`child ${key} never became ${state}`);
  };

  it('should wake the caller when its called child is cancelled', { timeout: 60_000 }, async () => {
    const { client } = suite;
    const handle = await client.start('ends.parent', {
      key: 'e-cancel',
      input: { child: 'ends.waits' },
    });
    await waitForChild(childKey('e-cancel'), 'idle');
    // The parent halted on its call (it is idle, its call log pending).
    await expect
      .poll(() => client.get('e-cancel').then((r) => r.state), { timeout: 20_000 })
      .toBe('idle');
    await client.cancel(childKey('e-cancel'));
    await expect(handle.result({ timeout: '30s' })).resolves.toBe('caught cancelled');
  });

  it(
    'should wake the caller when its called child fails and ends compensated',
    { timeout: 60_000 },
    async () => {
      const { client } = suite;
      const handle = await client.start('ends.parent', {
        key: 'e-saga',
        input: { child: 'ends.saga' },
      });
      await expect(handle.result({ timeout: '30s' })).resolves.toBe('caught compensated');
      expect((await client.get(childKey('e-saga'))).state).toBe('compensated');
    },
  );

  // The merge poller is slowed to 1 min: only the children's ends wake the parent in time.
  it(
    'should end a collect merge whose child ended compensated, listing it as failed',
    { timeout: 60_000 },
    async () => {
      const handle = await suite.client.start('ends.merge', {
        key: 'm-collect',
        input: { mode: 'collect' },
      });
      await expect(handle.result({ timeout: '30s' })).resolves.toEqual({
        counts: { total: 2, completed: 1, failed: 1 },
        failed: ['compensated'],
      });
    },
  );

  it(
    'should fail a failFast merge fast on a child that ended compensated',
    { timeout: 60_000 },
    async () => {
      const handle = await suite.client.start('ends.merge', {
        key: 'm-fast',
        input: { mode: 'failFast' },
      });
      await expect(handle.result({ timeout: '30s' })).resolves.toBe('caught compensated');
    },
  );

  // Without `mode` a merge waits for every child to complete; one that ended `compensated` never
  // will (client.retry does not run a rolled-back run forward), so, like a cancelled child, it
  // fails the merge: ChildWorkflowFailedError, childState `compensated`. The children's ends wake
  // the parent (the poller is 1 min away).
  it(
    'should fail a default-mode merge on a child that ended compensated',
    { timeout: 30_000 },
    async () => {
      const handle = await suite.client.start('ends.merge', { key: 'm-default', input: {} });
      await expect(handle.result({ timeout: '15s' })).resolves.toBe('caught compensated');
    },
  );

  it(
    'should fail a default-mode merge as its poller sees a compensated child, others unfinished',
    { timeout: 30_000 },
    async () => {
      const handle = await suite.client.start('ends.mergeWaiting', { key: 'm-poll', input: {} });
      await expect(handle.result({ timeout: '15s' })).resolves.toBe('caught compensated saga');
      const waits = await suite.client.get('m-poll$ends.mergeWaiting$stuck$waits');
      expect(waits.state).toBe('idle');
      await suite.client.cancel(waits.key);
    },
  );
});
