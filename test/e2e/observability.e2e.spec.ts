import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeMetrics, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { orderProviders } from '../fixtures/orders.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, uniqueName } from '../support/env.js';

@Injectable()
class LoopWorkflow {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('obs.loop')
  async run(input: { items: number }): Promise<number> {
    let sum = 0;
    for (let i = 1; i <= input.items; i++) sum += await this.ctx.step('item', () => i);
    return sum;
  }
}

describe('metrics and tracing (e2e)', () => {
  const schema = uniqueName('cf_obs');
  const queueName = uniqueName('q_obs');
  const exporter = new InMemorySpanExporter();
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    app = await bootApp({ schema, queueName, providers: [...orderProviders, LoopWorkflow] });
    client = app.get(WorkflowClient);
  });
  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
    trace.disable();
  });

  const value = async (text: string, metric: string, labels: string): Promise<number> => {
    const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(labels));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('should move the Prometheus counters and record one span per executed step', async () => {
    const registry = app.get(ChronoForgeMetrics).registry;
    const before = await registry.metrics();
    const handle = await client.start('orders.fulfil', {
      key: 'obs-1',
      input: { orderId: 'obs1', quantity: 1 },
    });
    await handle.result({ timeout: '15s' });
    const after = await registry.metrics();
    const started = (t: string) =>
      value(t, 'chronoforge_runs_started_total', 'workflow="orders.fulfil"');
    const finished = (t: string) =>
      value(t, 'chronoforge_runs_finished_total', 'state="completed"');
    expect((await started(after)) - (await started(before))).toBe(1);
    expect((await finished(after)) - (await finished(before))).toBe(1);
    expect(after).toMatch(
      /chronoforge_step_duration_seconds_count\{workflow="orders.fulfil",step="step\$ship",outcome="ok"\} 1/,
    );
    expect(after).toContain('chronoforge_queue_lag_seconds_count');

    const spans = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes['chronoforge.workflow'] === 'orders.fulfil');
    const steps = spans
      .filter((s) => s.name === 'chronoforge.step')
      .map((s) => s.attributes['chronoforge.step']);
    expect(steps.sort()).toEqual(['step$charge', 'step$reserve', 'step$ship']);
    expect(
      spans
        .filter((s) => s.name === 'chronoforge.pass')
        .map((s) => s.attributes['chronoforge.outcome']),
    ).toEqual(['completed']);
  });

  it('should label the step metric by step name, one series however often a run loops', async () => {
    const handle = await client.start('obs.loop', { key: 'obs-loop', input: { items: 12 } });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe(78);
    const text = await app.get(ChronoForgeMetrics).registry.metrics();
    const series = text
      .split('\n')
      .filter((l) => l.startsWith('chronoforge_step_duration_seconds_count{workflow="obs.loop"'));
    expect(series).toEqual([
      'chronoforge_step_duration_seconds_count{workflow="obs.loop",step="step$item",outcome="ok"} 12',
    ]);
  });
});
