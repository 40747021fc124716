import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { cleanup, eventually, uniqueName } from '../support/env.js';
import { bootDashboardApp, DemoProbe, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

const auth = { [TOKEN_HEADER]: TOKEN };

/** A confirmation page: its status, text, cookie and the hidden fields of its POST form. */
async function confirmation(url: string) {
  const res = await fetch(url, { headers: auth });
  const body = await res.text();
  const cookie = (
    res.headers.getSetCookie().find((c) => c.includes('cf_dashboard_csrf=')) ?? ''
  ).split(';')[0];
  const form = /<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/.exec(body)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/name="([^"]+)"\s+value="([^"]*)"/g)) fields[m[1]] = m[2];
  return { status: res.status, body, cookie, fields };
}

/** Review of bulk cancel / bulk retry (issue 24 item 2): what the confirmation states is what is done. */
describe('dashboard bulk actions act on what their confirmation stated (e2e)', () => {
  const schema = uniqueName('cf_dbulkr');
  const queueName = uniqueName('q_dbulkr');
  let app: INestApplication;
  let client: WorkflowClient;
  let base: string;

  const state = async (key: string) => (await client.get(key)).state;
  const until = (key: string, s: string) =>
    eventually(async () => (await state(key)) === s, 15_000, `${key} ${s}`);
  const post = (path: string, cookie: string, fields: Record<string, string>) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...auth, cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  beforeAll(async () => {
    app = await bootDashboardApp(schema, queueName);
    client = app.get(WorkflowClient);
    base = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/api/ops/cf`;
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should not cancel a run that started after the confirmation was shown', async () => {
    for (const key of ['snap-1', 'snap-2']) await client.start('demo.waiter', { key });
    await Promise.all([until('snap-1', 'idle'), until('snap-2', 'idle')]);
    const page = await confirmation(`${base}/bulk-cancel?workflow=demo.waiter&key=snap-`);
    expect(page.body).toContain('<b class="count">2</b>');
    await client.start('demo.waiter', { key: 'snap-3' });
    await until('snap-3', 'idle');
    const res = await post('/bulk-cancel', page.cookie, page.fields);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('n=2');
    expect(await state('snap-1')).toBe('cancelled');
    expect(await state('snap-2')).toBe('cancelled');
    expect(await state('snap-3')).toBe('idle');
  });

  it('should not retry a run that failed after the confirmation was shown', async () => {
    const probe = app.get(DemoProbe);
    probe.cardDeclined = true;
    await client.start('demo.charge', { key: 'late-1', input: { orderId: 'l1', cents: 1 } });
    await until('late-1', 'stalled');
    const page = await confirmation(`${base}/bulk-retry?workflow=demo.charge&key=late-`);
    expect(page.body).toContain('<b class="count">1</b>');
    await client.start('demo.charge', { key: 'late-2', input: { orderId: 'l2', cents: 1 } });
    await until('late-2', 'stalled');
    probe.cardDeclined = false;
    const res = await post('/bulk-retry', page.cookie, page.fields);
    expect(res.headers.get('location')).toContain('n=1');
    await until('late-1', 'completed');
    expect(await state('late-2')).toBe('stalled');
  });
});
