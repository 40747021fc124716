import { describe, expect, it } from 'vitest';
import { composeProviders } from '../fixtures/compose.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

type Listed = { completed: Array<[string, number]>; failed: Array<[string, string, string]> };

describe('composition: merge results, failFast and collect (e2e)', () => {
  const suite = suiteApp('cmerge', composeProviders, { options: { worker: { concurrency: 8 } } });
  const { schema } = suite;

  it("should wake the parent by the last child's end, long before the 1-minute poll", async () => {
    const runs = await Promise.all(
      [1, 1, 10, 10, 50].map((n, i) =>
        suite.client.start('checkout.pushed', { key: `push-${i}`, input: { n } }),
      ),
    );
    const slow = await suite.client.start('checkout.pushed', {
      key: 'push-slow',
      input: { n: 5, sleep: '500ms' },
    });
    const results = await Promise.all([...runs, slow].map((h) => h.result({ timeout: '40s' })));
    expect(results).toEqual([1, 1, 10, 10, 50, 5]);
  }, 60_000);

  it("should return the 10 children's results from merge()", async () => {
    const handle = await suite.client.start('checkout.merge', {
      key: 'm-10',
      input: { n: 10, failing: [] },
    });
    const out = (await handle.result({ timeout: '60s' })) as Listed;
    expect(out.failed).toEqual([]);
    expect(out.completed).toEqual(Array.from({ length: 10 }, (_, i) => [`item_${i}`, i * 2]));
  });

  it('should fail fast at the first failed child', async () => {
    const handle = await suite.client.start('checkout.merge', {
      key: 'm-fast',
      input: { n: 10, failing: [3], mode: 'failFast' },
    });
    const err = await handle.result({ timeout: '60s' }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('item 3 broke');
    const run = await suite.client.get('m-fast');
    expect(run.state).toBe('failed');
    expect(run.errors.at(-1)?.errorClass).toBe('ChildWorkflowFailedError');
    expect(run.errors.at(-1)?.message).toContain('failed fast: child run');
  });

  it('should collect every outcome, completed and failed', async () => {
    const handle = await suite.client.start('checkout.merge', {
      key: 'm-all',
      input: { n: 10, failing: [2, 7], mode: 'collect' },
    });
    const out = (await handle.result({ timeout: '60s' })) as Listed;
    expect(out.completed.map((c) => c[0])).toEqual(
      [0, 1, 3, 4, 5, 6, 8, 9].map((i) => `item_${i}`),
    );
    expect(out.failed).toEqual([
      ['item_2', 'failed', 'item 2 broke'],
      ['item_7', 'failed', 'item 7 broke'],
    ]);
  });

  it('should iterate the outcomes of 10 000 children in pages', async () => {
    const handle = await suite.client.start('checkout.merge', {
      key: 'm-10k',
      input: { n: 10_000, failing: [5, 9_999], mode: 'collect' },
    });
    const out = await handle.result({ timeout: '300s' });
    const sum = Array.from({ length: 10_000 }, (_, i) => i * 2).reduce((a, b) => a + b, 0);
    expect(out).toEqual({ completed: 9_998, sum: sum - 10 - 19_998, failed: 2 });
    const [kids] = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".chrono_forge_workflows WHERE key LIKE 'm-10k$%'`,
    );
    expect(kids.n).toBe(10_000);
  }, 400_000);
});
