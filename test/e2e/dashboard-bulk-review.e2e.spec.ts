import { Injectable, type INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryPolicy, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { cleanup, eventually, uniqueName } from '../support/env.js';
import { Gate } from './dashboard-analytics.fixture.js';
import { bootDashboardApp, DemoProbe, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

/** A step that fails at once, or once the gate opens (`hold`): the run then stalls. */
@Injectable()
class GatedFailures {
  readonly passes = new Map<string, number>();

  constructor(
    private readonly ctx: WorkflowContext,
    private readonly gate: Gate,
  ) {}

  @Workflow('review.gated')
  async gated(input: { hold: boolean }): Promise<string> {
    return this.ctx.step(
      'fail',
      async () => {
        this.passes.set(this.ctx.key, (this.passes.get(this.ctx.key) ?? 0) + 1);
        if (input.hold) await this.gate.opened;
        throw new Error('no luck');
      },
      { retry: new RetryPolicy({ maxAttempts: 1 }) },
    );
  }
}

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
    app = await bootDashboardApp(schema, queueName, 'express', {
      providers: [Gate, GatedFailures],
    });
    client = app.get(WorkflowClient);
    base = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/api/ops/cf`;
  });

  afterAll(async () => {
    app?.get(Gate).release();
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
    expect(['idle', 'running']).toContain(await state('snap-3'));
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

  it('should not retry an older run that stalled after the confirmation was shown', async () => {
    const gated = app.get(GatedFailures);
    await client.start('review.gated', { key: 'old-0', input: { hold: true } });
    await eventually(async () => gated.passes.get('old-0') === 1, 15_000, 'old-0 in its step');
    await client.start('review.gated', { key: 'old-1', input: { hold: false } });
    await until('old-1', 'stalled');
    const page = await confirmation(`${base}/bulk-retry?workflow=review.gated`);
    expect(page.body).toContain('<b class="count">1</b>');
    app.get(Gate).release();
    await until('old-0', 'stalled');
    const res = await post('/bulk-retry', page.cookie, page.fields);
    expect(res.headers.get('location')).toContain('n=1');
    await eventually(async () => gated.passes.get('old-1') === 2, 15_000, 'old-1 retried');
    expect(gated.passes.get('old-0')).toBe(1);
    expect(await state('old-0')).toBe('stalled');
  });

  it('should match a key prefix literally: %, _ and backslash are no wildcards', async () => {
    const keys = ['pct%1', 'pctX1', 'und_1', 'undX1', 'bs\\1', 'bsX1', 'ünï-1'];
    for (const key of keys) await client.start('demo.waiter', { key });
    await Promise.all(keys.map((k) => until(k, 'idle')));
    const count = async (key: string) => {
      const page = await confirmation(
        `${base}/bulk-cancel?workflow=demo.waiter&key=${encodeURIComponent(key)}`,
      );
      return /<b class="count">(\d+)<\/b>/.exec(page.body)?.[1];
    };
    expect(await count('pct%')).toBe('1');
    expect(await count('und_')).toBe('1');
    expect(await count('bs\\')).toBe('1');
    expect(await count('ünï')).toBe('1');
    expect(await count('%')).toBe('0');
    expect(
      (await confirmation(`${base}/bulk-cancel?workflow=demo.waiter&key=${'k'.repeat(600)}`))
        .status,
    ).toBe(400);
  });

  it('should say how many counted runs it skipped because they moved on meanwhile', async () => {
    for (const key of ['moved-1', 'moved-2']) await client.start('demo.waiter', { key });
    await Promise.all([until('moved-1', 'idle'), until('moved-2', 'idle')]);
    const page = await confirmation(`${base}/bulk-cancel?workflow=demo.waiter&key=moved-`);
    expect(page.body).toContain('<b class="count">2</b>');
    await client.cancel('moved-2', { workflow: 'demo.waiter' });
    const res = await post('/bulk-cancel', page.cookie, page.fields);
    const after = await fetch(new URL(res.headers.get('location') ?? '', base), { headers: auth });
    expect(await after.text()).toContain('1 run(s) cancelled, 1 skipped');
  });
});
