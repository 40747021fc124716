import { startSampleApp } from '../support/sample-app.js';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULFIL_ORDER_WORKFLOW } from '../../sample-app/orders/order.workflow.js';
import * as env from '../support/env.js';

/** The sample app's `GET /metrics`, scraped like Prometheus does, while an order runs to the end. */
describe('sample app: Prometheus scrape (e2e)', () => {
  const schema = env.uniqueName('cf_smetrics');
  const queueName = env.uniqueName('q_smetrics');
  let app: INestApplication;
  let baseUrl: string;

  beforeAll(async () => {
    ({ app, origin: baseUrl } = await startSampleApp({
      schema,
      queueName,
      orders: { coolOff: '100ms' },
    }));
  });

  afterAll(async () => {
    await app?.close();
    await env.cleanup(schema, queueName);
  });

  const scrape = async (): Promise<string> => {
    const res = await fetch(`${baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  /** The value of one sample (`name{labels} value`), 0 when absent. */
  const sample = (text: string, name: string, labels: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const post = (path: string, body: unknown) =>
    fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const state = async (key: string): Promise<string> =>
    ((await (await fetch(`${baseUrl}/orders/${key}`)).json()) as { state: string }).state;

  it('should show the run, pass, step and cleanup counters moving', async () => {
    const wf = `workflow="${FULFIL_ORDER_WORKFLOW}"`;
    const before = await scrape();
    expect(before).toContain('# TYPE chronoforge_runs_started_total counter');
    const order = {
      orderId: 'M-1',
      lines: [{ sku: 'MUG-01', quantity: 1 }],
      email: 'grace@example.com',
    };
    expect((await post('/orders', order)).status).toBe(202);
    await env.eventually(async () => (await state('order-M-1')) === 'idle', 15_000, 'waiting');
    // The order waits for its delivery confirmation once shipped.
    await env.eventually(
      async () => (await post('/orders/order-M-1/signals/delivered', { receivedBy: 'Grace' })).ok,
      15_000,
      'the delivered signal to be accepted',
    );
    await env.eventually(async () => (await state('order-M-1')) === 'completed', 15_000, 'done');

    const after = await scrape();
    const moved = (name: string, labels: string) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(moved('chronoforge_runs_started_total', wf)).toBe(1);
    expect(moved('chronoforge_runs_finished_total', `${wf},state="completed"`)).toBe(1);
    expect(moved('chronoforge_passes_total', `${wf},outcome="completed"`)).toBe(1);
    expect(moved('chronoforge_passes_total', `${wf},outcome="halted"`)).toBeGreaterThan(0);
    expect(
      moved(
        'chronoforge_step_duration_seconds_count',
        `${wf},step="step$payments.charge",outcome="ok"`,
      ),
    ).toBe(1);
    expect(after).toMatch(/^chronoforge_queue_lag_seconds_count [1-9]/m);
    // The hourly scheduled cleanup ran once at boot, on the queue.
    expect(sample(after, 'chronoforge_cleanup_runs_total', 'outcome="ok"')).toBeGreaterThanOrEqual(
      1,
    );
  });
});
