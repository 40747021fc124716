import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { cleanup, eventually, uniqueName } from '../support/env.js';
import { bootDashboardApp, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

/** The run ids a runs page lists, in order. */
const runIds = (html: string) => [...html.matchAll(/data-run="(\d+)"/g)].map((m) => m[1]);

/** The `rel="next"` link of a page, unescaped. */
const nextLink = (html: string) =>
  /rel="next" href="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');

/** The dashboard's runs list filtered by search attributes (`attr` query parameters), over HTTP. */
describe('dashboard runs filter by search attributes (e2e)', () => {
  const schema = uniqueName('cf_dattr');
  const queueName = uniqueName('q_dattr');
  let app: INestApplication;
  let origin: string;
  const base = '/api/ops/cf';
  const ids = new Map<string, string>();

  const get = async (path: string, status = 200) => {
    const res = await fetch(`${origin}${path}`, { headers: { [TOKEN_HEADER]: TOKEN } });
    const text = await res.text();
    expect(res.status, `${path}: ${text.slice(0, 300)}`).toBe(status);
    return text;
  };

  beforeAll(async () => {
    app = await bootDashboardApp(schema, queueName);
    origin = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    const client = app.get(WorkflowClient);
    const start = async (key: string, attributes: Record<string, string | number>) =>
      ids.set(key, (await client.start('demo.waiter', { key, attributes })).id);
    for (let i = 1; i <= 6; i++) await start(`w-${i}`, { customerId: 'c-42', n: i });
    await start('w-7', { customerId: 'c-7', n: 7 });
    await start('w-8', { customerId: '<b>bold</b>' });
    // Each parks idle on its signal wait once its first pass ran (the state filter below needs it).
    for (const key of ids.keys())
      await eventually(async () => {
        const run = await client.get(key);
        return run.state === 'idle' && run.steps.length > 0;
      });
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should list only matching runs and keep the filter on the next page', async () => {
    const first = await get(`${base}/runs?attr=${encodeURIComponent('customerId=c-42')}`);
    expect(runIds(first)).toEqual(['w-6', 'w-5', 'w-4', 'w-3', 'w-2'].map((k) => ids.get(k)));
    const next = nextLink(first);
    expect(next).toContain('attr=customerId%3Dc-42');
    const second = await get(next!);
    expect(runIds(second)).toEqual([ids.get('w-1')]);
    const typed = await get(
      `${base}/runs?attr=${encodeURIComponent('customerId=c-42')}&attr=${encodeURIComponent('n:=3')}`,
    );
    expect(runIds(typed)).toEqual([ids.get('w-3')]);
    // A number never matches its text.
    expect(runIds(await get(`${base}/runs?attr=${encodeURIComponent('n=3')}`))).toEqual([]);
    expect(runIds(await get(`${base}/runs?state=idle&attr=customerId%3Dc-7`))).toEqual([
      ids.get('w-7'),
    ]);
  });

  it('should show a run’s attributes on its page, each linking to the runs that share it', async () => {
    const html = await get(`${base}/runs/${ids.get('w-3')}`);
    expect(html).toContain(`href="${base}/runs?attr=customerId%3Dc-42">customerId=c-42</a>`);
    expect(html).toContain(`href="${base}/runs?attr=n%3A%3D3">n:=3</a>`);
    const bold = await get(`${base}/runs/${ids.get('w-8')}`);
    expect(bold).toContain('customerId=&lt;b&gt;bold&lt;/b&gt;');
    expect(bold).not.toContain('<b>bold</b>');
  });

  it('should echo the filter as escaped text and refuse malformed terms', async () => {
    const html = await get(`${base}/runs?attr=${encodeURIComponent('customerId=<b>bold</b>')}`);
    expect(runIds(html)).toEqual([ids.get('w-8')]);
    expect(html).toContain('value="customerId=&lt;b&gt;bold&lt;/b&gt;"');
    expect(html).not.toContain('<b>bold</b>');
    for (const bad of ['no-equals', 'bad key=1', 'n:=abc', `k=${'x'.repeat(300)}`])
      expect(await get(`${base}/runs?attr=${encodeURIComponent(bad)}`, 400)).toContain('attr');
    // Two values for one key could never both match: refused, not narrowed to the last one.
    expect(await get(`${base}/runs?attr=n%3A%3D3&attr=n%3A%3D4`, 400)).toContain('twice');
  });
});
