import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { cleanup, eventually, sql, uniqueName } from '../support/env.js';
import { bootDashboardApp, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

/** Every `attr="…"` value of the page, in document order. */
const values = (html: string, attr: string) =>
  [...html.matchAll(new RegExp(`${attr}="([^"]*)"`, 'g'))].map((m) => m[1]);

/** The `rel` link of a page (`next` or `prev`), unescaped, or undefined. */
const link = (html: string, rel: 'next' | 'prev') =>
  /rel="(?:next|prev)"/.test(html)
    ? new RegExp(`rel="${rel}" href="([^"]+)"`).exec(html)?.[1]?.replaceAll('&amp;', '&')
    : undefined;

/**
 * Issue 26, point 5: a run's page is bounded whatever the run's size, and its lists are
 * keyset-paged so that following the links visits every row exactly once.
 */
describe('dashboard paging (e2e)', () => {
  const schema = uniqueName('cf_dpage');
  const queueName = uniqueName('q_dpage');
  const logs = `"${schema}".chrono_forge_execution_logs`;
  let app: INestApplication;
  let origin: string;
  let base: string;
  let longRun: string;

  const get = async (path: string) => {
    const res = await fetch(`${origin}${path}`, { headers: { [TOKEN_HEADER]: TOKEN } });
    expect(res.status, path).toBe(200);
    return res.text();
  };

  /** Appends `n` completed step logs named `<prefix><i>` to run `id`. */
  const addSteps = (id: string, prefix: string, n: number) =>
    sql(
      `INSERT INTO ${logs} (workflow_id, step_name, state, attempts, started_at, completed_at, result)
       SELECT $1, $2 || g, 'completed', 1, now(), now(), to_jsonb('result ' || g)
       FROM generate_series(1, $3::int) g`,
      [id, prefix, n],
    );

  /** An idle run of demo.waiter and its id. */
  async function idleRun(key: string): Promise<string> {
    const client = app.get(WorkflowClient);
    await client.start('demo.waiter', { key });
    // A new run is idle before its first pass too: wait for the pass that parks it on its signal
    // wait (its step log written), or that pass would add a log while a test counts them.
    await eventually(async () => {
      const run = await client.get(key);
      return run.state === 'idle' && run.steps.length > 0;
    });
    const [{ id }] = await sql<{ id: string }>(
      `SELECT id FROM "${schema}".chrono_forge_workflows WHERE key = $1`,
      [key],
    );
    return id;
  }

  /** The step names of run `id` as the run page lists them: every log but repeat ticks. */
  const allSteps = async (id: string) =>
    (
      await sql<{ step_name: string }>(
        `SELECT step_name FROM ${logs} WHERE workflow_id = $1
           AND step_name NOT LIKE 'durably\\_repeat$%$%' ORDER BY id`,
        [id],
      )
    ).map((r) => r.step_name);

  beforeAll(async () => {
    app = await bootDashboardApp(schema, queueName);
    origin = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    base = '/api/ops/cf';
    longRun = await idleRun('long-1');
    await addSteps(longRun, 'step$s', 3000);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should render a 3000-step run as a bounded page of 100 steps', async () => {
    // The count is read around the page: any log written meanwhile makes it read again.
    let total = 0;
    let html = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      total = (await allSteps(longRun)).length;
      html = await get(`${base}/runs/${longRun}`);
      if ((await allSteps(longRun)).length === total) break;
    }
    expect(total).toBeGreaterThan(3000);
    expect(values(html, 'data-step')).toHaveLength(100);
    expect(html).toContain(`(${total})`);
    expect(html.length).toBeLessThan(250_000);
    expect(link(html, 'prev')).toBeUndefined();
    const big = await get(`${base}/runs/${longRun}?size=500`);
    expect(values(big, 'data-step')).toHaveLength(500);
    expect(big.length).toBeLessThan(1_200_000);
  });

  it('should visit every step exactly once, in order, while steps are appended', async () => {
    const seen: string[] = [];
    let added = 0;
    for (let url: string | undefined = `${base}/runs/${longRun}`; url;) {
      const html = await get(url);
      seen.push(...values(html, 'data-step'));
      url = link(html, 'next');
      if (url) await addSteps(longRun, `step$late${added++}_`, 7); // between page loads
    }
    expect(added).toBeGreaterThan(30);
    expect(seen).toEqual(await allSteps(longRun));
  });

  it('should go back with the previous link to the same rows', async () => {
    const first = await get(`${base}/runs/${longRun}?size=50`);
    const second = await get(link(first, 'next')!);
    const third = await get(link(second, 'next')!);
    expect(link(second, 'next')).toContain('size=50');
    const back = await get(link(third, 'prev')!);
    expect(values(back, 'data-step')).toEqual(values(second, 'data-step'));
    const start = await get(link(second, 'prev')!);
    expect(values(start, 'data-step')).toEqual(values(first, 'data-step'));
  });

  it('should show the newest errors on the run page and page all of them, newest first', async () => {
    const id = await idleRun('errors-1');
    await sql(
      `INSERT INTO "${schema}".chrono_forge_error_logs (workflow_id, step_name, attempt, error_class, error_message, backtrace)
       SELECT $1, 'step$x', g, 'Error', 'failure ' || g, repeat('at frame\n', 2000) FROM generate_series(1, 250) g`,
      [id],
    );
    const runPage = await get(`${base}/runs/${id}`);
    expect(values(runPage, 'data-error')).toHaveLength(10);
    expect(runPage).toContain('All 250 errors');
    const ids: string[] = [];
    for (let url: string | undefined = `${base}/runs/${id}/errors`; url;) {
      const html = await get(url);
      expect(html.length).toBeLessThan(600_000); // backtraces are cut at 4 000 characters
      ids.push(...values(html, 'data-error'));
      url = link(html, 'next');
    }
    expect(ids).toHaveLength(250);
    expect(ids).toEqual([...ids].sort((a, b) => Number(b) - Number(a)));
  });

  it('should page a run with many branches, and a branch with many children', async () => {
    const id = await idleRun('branchy-1');
    await addSteps(id, 'branch$b', 120);
    const [{ id: logId }] = await sql<{ id: string }>(
      `SELECT id FROM ${logs} WHERE workflow_id = $1 AND step_name = 'branch$b1'`,
      [id],
    );
    await sql(
      `INSERT INTO "${schema}".chrono_forge_workflows (key, job_name, max_duration_ms, state, parent_execution_log_id)
       SELECT 'child-' || g, 'demo.line', 60000, 'idle', $1 FROM generate_series(1, 12) g`,
      [logId],
    );
    const runPage = await get(`${base}/runs/${id}`);
    expect(runPage.match(/branches\/b\d+"/g)).toHaveLength(20);
    expect(runPage).toContain('All branches ›');
    const names: string[] = [];
    for (let url: string | undefined = `${base}/runs/${id}/branches`; url;) {
      const html = await get(url);
      names.push(...[...html.matchAll(/branches\/(b\d+)"/g)].map((m) => m[1]));
      url = link(html, 'next');
    }
    expect(names).toEqual(Array.from({ length: 120 }, (_, i) => `b${i + 1}`));
    // Children: the fixture's pageSize (5) per page, newest first, the state filter kept.
    const keys: string[] = [];
    for (let url: string | undefined = `${base}/runs/${id}/branches/b1?state=idle`; url;) {
      const html = await get(url);
      keys.push(...[...html.matchAll(/>(child-\d+)</g)].map((m) => m[1]));
      url = link(html, 'next');
      if (url) expect(url).toContain('state=idle');
    }
    expect(keys).toEqual(Array.from({ length: 12 }, (_, i) => `child-${12 - i}`));
  });
});
