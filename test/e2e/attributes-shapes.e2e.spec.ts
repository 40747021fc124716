import { describe, expect, it } from 'vitest';
import { AttributeSaga, AttributeShapes } from '../fixtures/attributes-shapes.fixture.js';
import { ChronoForgeDatabase } from '../../lib/database/chrono-forge-database.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('search attributes in the shapes workflows take (e2e)', () => {
  const suite = suiteApp('attrshape', [AttributeShapes, AttributeSaga]);

  it('should set them beside steps, twice alike, in a tick and after a caught refusal', async () => {
    const handle = await suite.client.start('attrs.shapes', { key: 'shapes-1' });
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual(['a', 'b']);
    const run = await suite.client.get('shapes-1');
    expect(run.attributes).toEqual({ x: 1, y: 2, ticks: 3, recovered: true });
    const s = `"${suite.schema}"`;
    const names = await sql<{ step_name: string }>(
      `SELECT step_name FROM ${s}.chrono_forge_execution_logs
       WHERE workflow_id = $1 AND step_name LIKE 'attributes$%' ORDER BY step_name`,
      [run.id],
    );
    expect(names.map((r) => r.step_name)).toEqual([
      'attributes$set',
      'attributes$set#2',
      'attributes$set#3',
      'attributes$set#4',
      'attributes$set#5',
    ]);
    expect((await suite.client.list({ attributes: { ticks: 3, recovered: true } }))[0]?.key).toBe(
      'shapes-1',
    );
  });

  it('should set them from a compensation and the @OnCancel cleanup of a cancelled run', async () => {
    const { client } = suite;
    await client.start('attrs.saga', { key: 'saga-1' });
    await eventually(async () => (await client.get('saga-1')).attributes.stage === 'charged');
    await client.cancel('saga-1');
    const run = await eventually(async () => {
      const r = await client.get('saga-1');
      return r.state === 'compensated' || r.state === 'failed' ? r : undefined;
    });
    expect(run.state).toBe('compensated');
    expect(run.attributes).toEqual({ refunded: true, cleaned: true });
  });

  it('should store and match extreme numbers, -0, unicode and Object.prototype names', async () => {
    const { client } = suite;
    const attributes = {
      big: Number.MAX_VALUE,
      tiny: Number.MIN_VALUE,
      negZero: -0,
      unsafe: 2 ** 64,
      text: 'naïve 🙂 Ωmega',
      constructor: 'ctor',
      toString: false,
    };
    await client.start('attrs.saga', { key: 'extreme-1', attributes });
    // NOTE: the run's first step may already have set `stage` (CI: the worker ran it first).
    const { stage, ...stored } = (await client.get('extreme-1')).attributes;
    expect(stored).toEqual({ ...attributes, negZero: 0 });
    expect([undefined, 'charged']).toContain(stage);
    for (const [k, v] of Object.entries(attributes)) {
      const runs = await client.list({ attributes: { [k]: v } });
      expect(
        runs.map((r) => r.key),
        k,
      ).toEqual(['extreme-1']);
    }
    expect(await client.list({ attributes: { big: 1.7e308 } })).toEqual([]);
    await client.cancel('extreme-1');
  });

  it('should store start attributes in the caller’s transaction (manager), plain and priority', async () => {
    const { client, app } = suite;
    const ds = app.get(ChronoForgeDatabase).dataSource;
    await ds.transaction(async (manager) => {
      await client.start('attrs.saga', { key: 'tx-1', manager, attributes: { via: 'tx' } });
      await client.start('attrs.saga', {
        key: 'tx-2',
        manager,
        priority: 2,
        attributes: { via: 'tx', prio: true },
      });
    });
    const keys = (await client.list({ attributes: { via: 'tx' } })).map((r) => r.key);
    expect(keys).toEqual(['tx-2', 'tx-1']);
    await expect(
      ds.transaction(async (manager) => {
        await client.start('attrs.saga', { key: 'tx-3', manager, attributes: { via: 'rolled' } });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await client.list({ attributes: { via: 'rolled' } })).toEqual([]);
    for (const key of ['tx-1', 'tx-2']) await client.cancel(key);
  });
});
