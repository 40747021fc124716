import { describe, expect, it } from 'vitest';
import { SearchAttributeError } from '../../lib/index.js';
import { ChronoForgeMetrics } from '../../lib/observability/chrono-forge-metrics.js';
import {
  AttributeWorkflows,
  OrderService,
  steal,
  useRunsTable,
} from '../fixtures/attributes.fixture.js';
import { cliRunner } from '../support/cli.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('search attributes: ctx.setAttributes, start and list filters (e2e)', () => {
  const suite = suiteApp('attrs', [AttributeWorkflows, OrderService]);
  const wfTable = `"${suite.schema}".chrono_forge_workflows`;
  useRunsTable(wfTable);
  const logs = `"${suite.schema}".chrono_forge_execution_logs`;
  const stored = async (key: string) => {
    const [row] = await sql<{ attributes: Record<string, unknown> }>(
      `SELECT attributes FROM ${wfTable} WHERE key = $1`,
      [key],
    );
    return row?.attributes;
  };
  const attributeLogs = async (key: string) =>
    (
      await sql<{ step_name: string }>(
        `SELECT l.step_name FROM ${logs} l JOIN ${wfTable} w ON w.id = l.workflow_id
         WHERE w.key = $1 AND l.step_name LIKE 'attributes$%' ORDER BY l.id`,
        [key],
      )
    ).map((r) => r.step_name);

  it('should store attributes set at start, in the body and in a step, each call once', async () => {
    const { client } = suite;
    const handle = await client.start('attrs.order', {
      key: 'order-1',
      input: { customerId: 'c-42' },
      attributes: { channel: 'web', draft: true },
    });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe(42);
    const run = await client.get('order-1');
    expect(run.attributes).toEqual({
      channel: 'web',
      customerId: 'c-42',
      priced: true,
      total: 42,
      stage: 'done',
    });
    expect(await attributeLogs('order-1')).toEqual([
      'attributes$set',
      'attributes$set#2',
      'attributes$set#3',
    ]);
  });

  it('should run the README example', async () => {
    const { client } = suite;
    const handle = await client.start('orders.checkout', {
      key: 'readme-42',
      input: { orderId: '42', customerId: 'c-readme' },
      attributes: { channel: 'web', draft: true },
    });
    await handle.result({ timeout: '20s' });
    const runs = await client.list({ attributes: { customerId: 'c-readme', stage: 'paid' } });
    expect(runs).toMatchObject([
      {
        key: 'readme-42',
        state: 'completed',
        attributes: { channel: 'web', customerId: 'c-readme', stage: 'paid', total: 129.5 },
      },
    ]);
    expect(Object.keys(runs[0].attributes).sort()).toEqual([
      'channel',
      'customerId',
      'stage',
      'total',
    ]);
  });

  it('should filter client.list by attributes (containment, typed values)', async () => {
    const { client } = suite;
    for (const [key, customerId] of [
      ['order-2', 'c-7'],
      ['order-3', 'c-42'],
    ]) {
      const handle = await client.start('attrs.order', { key, input: { customerId } });
      await handle.result({ timeout: '20s' });
    }
    const keys = async (attributes: Record<string, string | number | boolean>) =>
      (await client.list({ attributes })).map((r) => r.key);
    expect(await keys({ customerId: 'c-42' })).toEqual(['order-3', 'order-1']);
    expect(await keys({ customerId: 'c-42', channel: 'web' })).toEqual(['order-1']);
    expect(await keys({ total: 42, stage: 'done' })).toEqual(['order-3', 'order-2', 'order-1']);
    expect(await keys({ total: '42' })).toEqual([]);
    expect(await keys({ priced: 'true' })).toEqual([]);
    const [summary] = await client.list({ attributes: { customerId: 'c-7' }, state: 'completed' });
    expect(summary).toMatchObject({ key: 'order-2', attributes: { customerId: 'c-7', total: 42 } });
    const page = await client.list({ attributes: { customerId: 'c-42' }, limit: 1 });
    expect(page.map((r) => r.key)).toEqual(['order-3']);
    const older = await client.list({ attributes: { customerId: 'c-42' }, before: page[0].id });
    expect(older.map((r) => r.key)).toEqual(['order-1']);
  });

  it('should filter the CLI list with --attr and print the attributes', async () => {
    const cli = cliRunner(suite.schema, suite.queueName);
    const list = await cli('list', '--attr', 'customerId=c-42', '--attr', 'total:=42');
    expect(list.code).toBe(0);
    const rows = list.out
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    expect(rows.map((r) => r[3])).toEqual(['order-3', 'order-1']);
    expect(rows[1][5].split(' ').sort()).toEqual(
      ['channel=web', 'customerId=c-42', 'priced:=true', 'stage=done', 'total:=42'].sort(),
    );
    const json = JSON.parse((await cli('list', '--attr', 'customerId=c-7', '--json')).out) as [
      { key: string; attributes: Record<string, unknown> },
    ];
    expect(json.map((r) => [r.key, r.attributes.total])).toEqual([['order-2', 42]]);
    expect((await cli('list', '--attr', 'total=42')).out).toBe('');
    for (const argv of [
      ['list', '--attr', 'no-equals'],
      ['list', '--attr', 'total:=many'],
      ['list', '--attr', 'stage=done', '--attr', 'stage=priced'],
      ['show', 'order-1', '--attr', 'a=b'],
    ]) {
      const refused = await cli(...argv);
      expect(refused.code, argv.join(' ')).toBe(2);
      expect(refused.err).toContain('--attr');
    }
  });

  it('should store start attributes on the start-rules path too (a priority), once per key', async () => {
    const { client } = suite;
    const options = { key: 'prio-1', input: { customerId: 'c-prio' }, priority: 3 };
    await client.start('attrs.order', { ...options, attributes: { tier: 'gold' } });
    // The key finds the existing run: its attributes are not replaced.
    await client.start('attrs.order', { ...options, attributes: { tier: 'silver' } });
    await (await client.handle('prio-1')).result({ timeout: '20s' });
    expect((await client.get('prio-1')).attributes).toMatchObject({
      tier: 'gold',
      customerId: 'c-prio',
    });
  });

  it('should start a fork with the source run’s attributes', async () => {
    const { client } = suite;
    const fork = await client.fork('order-1', { fromStep: 'wait$pause', newKey: 'order-1-fork' });
    await expect(fork.result({ timeout: '20s' })).resolves.toBe(42);
    expect((await client.get('order-1-fork')).attributes).toEqual(
      (await client.get('order-1')).attributes,
    );
    expect(await attributeLogs('order-1-fork')).toEqual([
      'attributes$set',
      'attributes$set#2',
      'attributes$set#3',
    ]);
  });

  it('should refuse bad attributes at start and in list filters, storing nothing', async () => {
    const { client } = suite;
    const bad: unknown[] = [
      { 'bad key': 1 },
      { nested: { a: 1 } },
      { none: null },
      { long: 'x'.repeat(257) },
      { inf: Number.POSITIVE_INFINITY },
      'customerId=c-42',
      JSON.parse('{"__proto__": "p", "a": 1}'),
    ];
    for (const [i, attributes] of bad.entries()) {
      const key = `bad-start-${i}`;
      await expect(
        client.start('attrs.order', { key, input: { customerId: 'c-1' }, attributes } as never),
      ).rejects.toThrow(SearchAttributeError);
      expect(await stored(key)).toBeUndefined();
    }
    const proto = JSON.parse('{"__proto__": "p", "a": 1}') as unknown;
    for (const attributes of [{}, { a: null }, { 'a b': 'x' }, [], proto] as unknown[]) {
      await expect(client.list({ attributes } as never)).rejects.toThrow(SearchAttributeError);
    }
  });

  it('should refuse bad updates in a run before anything is stored', async () => {
    const { client } = suite;
    const handle = await client.start('attrs.refused', { key: 'refused-1' });
    const codes = await handle.result({ timeout: '20s' });
    const refused = 'CHRONOFORGE_SEARCH_ATTRIBUTE';
    expect(codes).toEqual([...Array(7).fill(refused), refused]);
    const attributes = await stored('refused-1');
    expect(Object.keys(attributes ?? {}).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `a${i + 10}`).sort(),
    );
    // Invalid updates took no position and left no log; the one over the key limit is recorded
    // as refused (its replay, after the sleep, was refused again: the codes above).
    expect(await attributeLogs('refused-1')).toEqual([
      'attributes$set',
      'attributes$set#2',
      'attributes$set#3',
    ]);
    const [refusal] = await sql<{ metadata: { refused?: string } }>(
      `SELECT l.metadata FROM ${logs} l JOIN ${wfTable} w ON w.id = l.workflow_id
       WHERE w.key = 'refused-1' AND l.step_name = 'attributes$set#2'`,
    );
    expect(refusal.metadata.refused).toBe('full');
  });

  it.each([
    ['the body', false],
    ['a step body', true],
  ])('should not write attributes from %s once the lock was taken over', async (_, inStep) => {
    const { client, app } = suite;
    const key = `fenced-${inStep ? 'step' : 'body'}`;
    steal.add(key);
    const metrics = app.get(ChronoForgeMetrics);
    const lost = async () =>
      ((await metrics.passes.get()).values.find(
        (v) => v.labels.workflow === 'attrs.fenced' && v.labels.outcome === 'lock_lost',
      )?.value ?? 0) as number;
    const before = await lost();
    await client.start('attrs.fenced', { key, input: { inStep } });
    await eventually(async () => (await lost()) > before, 15_000, 'the pass to lose its lock');
    expect(await stored(key)).toEqual({ before: true });
    expect(await attributeLogs(key)).toEqual(['attributes$set']);
    const [run] = await sql<{ locked_by: string }>(
      `SELECT locked_by FROM ${wfTable} WHERE key = $1`,
      [key],
    );
    expect(run.locked_by).toBe('thief/1');
  });
});
