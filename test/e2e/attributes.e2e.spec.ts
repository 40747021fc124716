import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import {
  MAX_ATTRIBUTES,
  SearchAttributeError,
  type SearchAttributesUpdate,
  Workflow,
  WorkflowContext,
} from '../../lib/index.js';
import { ChronoForgeMetrics } from '../../lib/observability/chrono-forge-metrics.js';
import { defaultOutcome } from '../../lib/testing/index.js';
import { cliRunner } from '../support/cli.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp, suiteHarness } from '../support/suite.js';

/** Runs whose lock the workflow hands to a thief once (by key), from its body or a step body. */
const steal = new Set<string>();

@Injectable()
class AttributeWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  /** Sets attributes in the body, in a step body, across a timer, and removes one. */
  @Workflow('attrs.order')
  async order(input: { customerId: string }): Promise<number> {
    await this.ctx.setAttributes({ customerId: input.customerId, stage: 'new' });
    const total = await this.ctx.step('price', async () => {
      await this.ctx.setAttributes({ priced: true });
      return 42;
    });
    await this.ctx.setAttributes({ total, stage: 'priced' });
    await this.ctx.sleep('30ms', 'pause');
    await this.ctx.setAttributes({ stage: 'done', draft: null });
    return total;
  }

  /** Refused updates, caught: what each threw. */
  @Workflow('attrs.refused')
  async refused(): Promise<string[]> {
    const many = (prefix: string, n: number): SearchAttributesUpdate =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]));
    const attempts: unknown[] = [
      { 'no spaces': 1 },
      { nested: { a: 1 } as never },
      { long: 'x'.repeat(257) },
      { nan: Number.NaN },
      { bell: 'a\u0007b' },
      many('k', MAX_ATTRIBUTES + 1),
      ['not', 'an', 'object'],
    ];
    const codes: string[] = [];
    for (const update of attempts) {
      await this.ctx.setAttributes(update as SearchAttributesUpdate).then(
        () => codes.push('stored'),
        (e: SearchAttributeError) => codes.push(e.code),
      );
    }
    await this.ctx.setAttributes(many('a', 20));
    // 20 more keys would make 40: the whole call is refused, the 20 stay.
    await this.ctx.setAttributes(many('b', 20)).then(
      () => codes.push('stored'),
      (e: SearchAttributeError) => codes.push(e.code),
    );
    return codes;
  }

  /** Its lock is taken over before a setAttributes of the body (or of a step body). */
  @Workflow('attrs.fenced')
  async fenced(input: { inStep: boolean }): Promise<void> {
    await this.ctx.setAttributes({ before: true });
    const takeOver = async () => {
      if (!steal.delete(this.ctx.key)) return;
      await sql(`UPDATE ${wfTable} SET locked_by = 'thief/1', locked_at = now() WHERE id = $1`, [
        this.ctx.workflowId,
      ]);
    };
    if (input.inStep)
      await this.ctx.step('steal', async () => {
        await takeOver();
        await this.ctx.setAttributes({ stolen: true });
      });
    else {
      await takeOver();
      await this.ctx.setAttributes({ stolen: true });
    }
  }
}

/** The README's example (Search attributes), as written there. */
@Injectable()
class OrderService {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('orders.checkout')
  async checkout(input: { orderId: string; customerId: string }): Promise<number> {
    await this.ctx.setAttributes({ customerId: input.customerId, stage: 'pricing' });
    const total = await this.ctx.step('price', () => 129.5);
    await this.ctx.setAttributes({ total, stage: 'paid', draft: null }); // draft removed
    return total;
  }
}

/** The runs table of the suite (set once the suite's schema is known). */
let wfTable = '';

describe('search attributes: ctx.setAttributes, start and list filters (e2e)', () => {
  const suite = suiteApp('attrs', [AttributeWorkflows, OrderService]);
  wfTable = `"${suite.schema}".chrono_forge_workflows`;
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
      ['show', 'order-1', '--attr', 'a=b'],
    ]) {
      const refused = await cli(...argv);
      expect(refused.code, argv.join(' ')).toBe(2);
      expect(refused.err).toContain('--attr');
    }
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
    ];
    for (const [i, attributes] of bad.entries()) {
      const key = `bad-start-${i}`;
      await expect(
        client.start('attrs.order', { key, input: { customerId: 'c-1' }, attributes } as never),
      ).rejects.toThrow(SearchAttributeError);
      expect(await stored(key)).toBeUndefined();
    }
    for (const attributes of [{}, { a: null }, { 'a b': 'x' }, []] as unknown[]) {
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
      Array.from({ length: 20 }, (_, i) => `a${i}`).sort(),
    );
    // Only the stored call left a log: refused calls recorded nothing (nor took a position).
    expect(await attributeLogs('refused-1')).toEqual(['attributes$set']);
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

describe('search attributes survive crashes at every checkpoint (e2e)', () => {
  const suite = suiteHarness([AttributeWorkflows]);

  it('should end every crash variant of "attrs.order" with the clean run’s attributes', async () => {
    const report = await suite.harness.explore(
      'attrs.order',
      { customerId: 'c-9' },
      {
        keyPrefix: 'crash',
        outcome: (run) => ({ ...(defaultOutcome(run) as object), attributes: run.attributes }),
      },
    );
    expect(report.clean.outcome).toMatchObject({
      state: 'completed',
      attributes: { customerId: 'c-9', priced: true, total: 42, stage: 'done' },
    });
    const targets = new Set(report.variants.map((v) => v.step));
    expect(targets).toEqual(
      new Set([
        'attributes$set',
        'step$price',
        'attributes$set#2',
        'wait$pause',
        'attributes$set#3',
      ]),
    );
    expect(report.variants.filter((v) => !v.ok)).toEqual([]);
  });
});
