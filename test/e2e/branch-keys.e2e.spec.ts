import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { spawnBatches } from '../../lib/branches/spawn-source.js';
import { KeyProbe, keyProviders } from '../fixtures/branch-keys.fixture.js';
import {
  bootLineItemsApp,
  childPrefix,
  LINE_ITEMS,
  type LineItem,
} from '../fixtures/branches.fixture.js';
import { sql, uniqueName } from '../support/env.js';
import type { Repository } from 'typeorm';

/**
 * Child keys (`<parentKey>$<parentWorkflow>$<branch>$<name>`), the keys of branches opened before
 * that scheme, the checks a spawned child passes (those of `client.start`), and spawnEach over a
 * query builder with an OR condition.
 */
describe('branches: child keys, spawn checks and OR conditions (e2e)', () => {
  const schema = uniqueName('cf_brk');
  const queueName = uniqueName('q_brk');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: KeyProbe;
  let close: (() => Promise<void>) | undefined;

  const wf = `"${schema}".chrono_forge_workflows`;
  const logs = `"${schema}".chrono_forge_execution_logs`;
  /** Children of the run with `parentKey` (of `workflow`), by key. */
  const kids = (parentKey: string, workflow?: string) =>
    sql<{ key: string; state: string; result: unknown }>(
      `SELECT c.key, c.state, c.result FROM ${wf} c
       JOIN ${logs} b ON b.id = c.parent_execution_log_id
       JOIN ${wf} p ON p.id = b.workflow_id
       WHERE p.key = $1 AND ($2::text IS NULL OR p.job_name = $2) ORDER BY c.key`,
      [parentKey, workflow ?? null],
    );

  beforeAll(async () => {
    ({ app, close } = await bootLineItemsApp({ schema, queueName, providers: keyProviders }));
    client = app.get(WorkflowClient);
    probe = app.get(KeyProbe);
  });

  afterAll(async () => {
    await close?.();
  });

  it('should give two workflows started with the same key their own children', async () => {
    const first = await client.start('keys.first', { key: 'same' });
    const second = await client.start('keys.second', { key: 'same' });
    await expect(first.result({ timeout: '20s' })).resolves.toBe('first merged');
    await expect(second.result({ timeout: '20s' })).resolves.toBe('second merged');
    // Each parent merged its own three children (the second used to merge with none).
    for (const by of ['first', 'second']) {
      const run = await client.get('same', { workflow: `keys.${by}` });
      expect(run.branches).toEqual([
        expect.objectContaining({ name: 'fan', sealed: true, children: { completed: 3 } }),
      ]);
    }
    for (const by of ['first', 'second']) {
      const prefix = await childPrefix(schema, 'same', `keys.${by}`);
      expect(prefix).toBe(`same$keys.${by}$`);
      const children = await kids('same', `keys.${by}`);
      expect(children.map((c) => c.key)).toEqual(
        ['fan$kid_0', 'fan$kid_1', 'fan$one'].map((k) => prefix + k),
      );
      expect(children.map((c) => c.result)).toEqual(
        [0, 1, 'one'].map((i) => ({ json: `${by}-${i}` })),
      );
      for (const c of children) expect(probe.childRuns.get(c.key)).toBe(1);
    }
  });

  it('should fail a branch whose child key belongs to a run of another parent, not merge without it', async () => {
    const first = await client.start('keys.first', { key: 'reborn' });
    await expect(first.result({ timeout: '20s' })).resolves.toBe('first merged');
    const before = await kids('reborn');
    // The parent is deleted and its children survive, as Cleanup does; the key is started again.
    await sql(
      `WITH gone AS (DELETE FROM ${wf} WHERE key = 'reborn' RETURNING id)
       UPDATE ${wf} SET parent_execution_log_id = NULL WHERE key LIKE 'reborn$%'`,
    );
    const again = await client.start('keys.first', { key: 'reborn' });
    const error = await again.result({ timeout: '15s' }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/child key\(s\) "reborn\$keys\.first\$fan\$one"/);
    expect((await client.get('reborn')).errors.map((e) => e.errorClass)).toEqual([
      'ChildKeyConflictError',
    ]);
    expect(await kids('reborn')).toEqual([]);
    // Once the old children are gone, a retry spawns and merges the new run's own children.
    await sql(`DELETE FROM ${wf} WHERE key LIKE 'reborn$%'`);
    await client.retry('reborn');
    await expect(again.result({ timeout: '20s' })).resolves.toBe('first merged');
    expect((await kids('reborn')).map((c) => c.key)).toEqual(before.map((c) => c.key));
  });

  it('should keep the old keys of a branch opened before the deploy, without spawning a child twice', async () => {
    // The first pass fails after the spawnEach's first batch; meanwhile the test turns the branch
    // into one opened by the previous version: no key prefix in its log, children keyed
    // `<parentKey>$<branch>$<name>`. The retried pass spawns `only` again and resumes the spawnEach.
    probe.beforeThrow = async () => {
      await sql(
        `UPDATE ${logs} SET metadata = metadata - 'child_key_prefix'
         WHERE step_name = 'branch$grow' AND workflow_id = (SELECT id FROM ${wf} WHERE key = 'legacy')`,
      );
      const renamed = await sql(
        `UPDATE ${wf} SET key = regexp_replace(key, '^legacy\\$keys\\.legacy\\$', 'legacy$')
         WHERE key LIKE 'legacy$%' RETURNING key`,
      );
      expect(renamed.map((r) => r.key as string).sort()).toEqual([
        'legacy$grow$more_0',
        'legacy$grow$more_1',
        'legacy$grow$only',
      ]);
    };
    try {
      const handle = await client.start('keys.legacy', { key: 'legacy' });
      await expect(handle.result({ timeout: '20s' })).resolves.toBe('grown');
    } finally {
      probe.beforeThrow = null;
    }
    const children = await kids('legacy');
    expect(children.map((c) => c.key)).toEqual([
      ...[0, 1, 2, 3].map((i) => `legacy$grow$more_${i}`),
      'legacy$grow$only',
    ]);
    expect(children.map((c) => c.state)).toEqual(Array(5).fill('completed'));
    // A child that ran before the rename ran under its new-style key: count both spellings.
    const runs = [...probe.childRuns].filter(([k]) => k.startsWith('legacy$'));
    for (const c of children) {
      const tail = c.key.slice('legacy'.length);
      expect(runs.filter(([k]) => k.endsWith(tail)).reduce((n, [, v]) => n + v, 0)).toBe(1);
    }
    expect(runs.reduce((n, [, v]) => n + v, 0)).toBe(5);
    expect((await client.get('legacy')).errors.map((e) => e.message)).toEqual([
      'source failed after its first batch',
    ]);
  });

  it('should page a query builder with .where(a).orWhere(b) to exactly the matching rows', async () => {
    const repo = app.get<Repository<LineItem>>(LINE_ITEMS);
    const qb = repo
      .createQueryBuilder('li')
      .where('li.id <= :lo', { lo: 2 })
      .orWhere('li.id >= :hi', { hi: 9 });
    const pages: number[][] = [];
    for await (const batch of spawnBatches(qb, 2, { n: 0, pk: null })) {
      pages.push(batch.items.map((i) => i.item.id));
      if (pages.length > 5) break; // the unbracketed cursor returned the first page forever
    }
    expect(pages).toEqual([
      [1, 2],
      [9, 10],
    ]);

    const handle = await client.start('keys.orWhere', { key: 'or' });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe('either merged');
    const prefix = await childPrefix(schema, 'or');
    const children = await kids('or');
    expect(children.map((c) => [c.key, c.result])).toEqual(
      [1, 10, 2, 9].map((id) => [`${prefix}either$row_${id}`, { json: `sku-${id}` }]),
    );
    for (const c of children) expect(probe.childRuns.get(c.key)).toBe(1);
  });

  it.each([
    ['keys.longKey', 'InvalidOptionsError', /run key must be a non-empty string of at most 512/],
    ['keys.bigInput', 'InvalidOptionsError', /Input of "keys\.child" is \d+ bytes; the limit/],
    ['keys.nulInput', 'SerializationError', /NUL character/],
    ['keys.badDto', 'InputValidationError', /size must be an integer/],
  ])(
    'should refuse a spawned child "%s" as client.start would: %s, no child',
    async (workflow, errorClass, message) => {
      const key = `bad-${workflow}`;
      const handle = await client.start(workflow, { key });
      const error = await handle.result({ timeout: '15s' }).catch((e: Error) => e);
      expect((error as Error).message).toMatch(message);
      const run = await client.get(key);
      expect(run.state).toBe('failed');
      expect(run.errors.map((e) => e.errorClass)).toEqual([errorClass]);
      expect(await kids(key)).toEqual([]);
    },
  );
});
