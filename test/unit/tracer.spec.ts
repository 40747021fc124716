import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { ChronoForgeMetrics } from '../../lib/observability/chrono-forge-metrics.js';
import { ChronoForgeTracer } from '../../lib/observability/chrono-forge-tracer.js';
import type { RunScope } from '../../lib/run/run-scope.js';
import { observeStep } from '../../lib/steps/step-support.js';

const scope = { run: { job_name: 'unit.tracer' } } as unknown as RunScope;

describe('ChronoForgeTracer', () => {
  afterEach(() => trace.disable());

  it('should be disabled until an SDK is registered, and enabled from then on', () => {
    const tracer = new ChronoForgeTracer();
    expect(tracer.enabled).toBe(false);
    // Registered after the engine's tracer was made (an app that sets OpenTelemetry up late).
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    expect(tracer.enabled).toBe(true);
    trace.disable();
    expect(tracer.enabled).toBe(false);
  });

  it('should run a step body without a span when disabled, with its value and its error', async () => {
    const tracer = new ChronoForgeTracer();
    const metrics = new ChronoForgeMetrics();
    await expect(observeStep(tracer, metrics, scope, 'step$a', 1, () => 7)).resolves.toBe(7);
    await expect(
      observeStep(tracer, metrics, scope, 'step$b', 1, () => {
        throw new Error('sync boom');
      }),
    ).rejects.toThrow('sync boom');
    await expect(
      observeStep(tracer, metrics, scope, 'step$c', 2, async () => Promise.reject(new Error('x'))),
    ).rejects.toThrow('x');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /chronoforge_step_duration_seconds_count\{[^}]*step="step\$a",outcome="ok"\} 1/,
    );
    expect(text).toMatch(
      /chronoforge_step_duration_seconds_count\{[^}]*step="step\$b",outcome="error"\} 1/,
    );
  });

  it('should record one span per step attempt once an SDK is registered, errors marked', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    const tracer = new ChronoForgeTracer();
    const metrics = new ChronoForgeMetrics();
    await observeStep(tracer, metrics, scope, 'step$a', 1, () => 1);
    await expect(
      observeStep(tracer, metrics, scope, 'step$b', 3, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const spans = exporter.getFinishedSpans();
    expect(
      spans.map((s) => [
        s.name,
        s.attributes['chronoforge.step'],
        s.attributes['chronoforge.attempt'],
      ]),
    ).toEqual([
      ['chronoforge.step', 'step$a', 1],
      ['chronoforge.step', 'step$b', 3],
    ]);
    expect(spans[1].status.code).toBe(2); // SpanStatusCode.ERROR
  });
});
